// The weight gradient of y = x W^T: dW[N, K] (+)= dy[M, N]^T x[M, K], summed over the M tokens in fp32 (gemm_tiles.cuh's
// mainloop in its TN layout). Both operands run token-major: dy^T is staged as [32 tokens][BM] tiles and read by
// ldmatrix.trans, x as [32 tokens][BN] tiles like the NN B operand. dW is always fp32, so gradients accumulated over
// many passes keep their low bits.
//
// Variants, picked by CudaGemm.WeightGradient like the GEMM's: 128x128 or 64x64 tiles; "bf16" (cp.async; N % 8 == 0,
// K % 8 == 0, 16-byte aligned operands) or "f32" (fp32 dy and x rounded to bf16 as they are staged); "unaligned"
// (element loads with bounds checks, any shape).
#include "gemm_tiles.cuh"

// Shared memory per launch: kStages * (BM + BN) * 32 * 2 bytes (48 KiB for 128x128, 24 KiB for 64x64).
#define COAR_WEIGHT_GRADIENT_KERNEL(name, BM, BN, WM, WN, T, VEC)                                                    \
    extern "C" __global__ void __launch_bounds__(WM * WN * 32)                                                      \
        name(const T* dy, const T* x, float* dw, int n, int k, int tokens, int accumulate, int pair_stores) {       \
        gemm::gemm_tc<BM, BN, WM, WN, gemm::Layout::TN, T, T, VEC>(dy, x, dw, n, k, tokens, 1, accumulate,         \
                                                                  pair_stores);                                     \
    }

COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_128_bf16, 128, 128, 2, 4, bf16, true)
COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_128_f32, 128, 128, 2, 4, float, true)
COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_128_unaligned_bf16, 128, 128, 2, 4, bf16, false)
COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_128_unaligned_f32, 128, 128, 2, 4, float, false)
COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_64_bf16, 64, 64, 2, 2, bf16, true)
COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_64_f32, 64, 64, 2, 2, float, true)
COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_64_unaligned_bf16, 64, 64, 2, 2, bf16, false)
COAR_WEIGHT_GRADIENT_KERNEL(weight_gradient_64_unaligned_f32, 64, 64, 2, 2, float, false)
