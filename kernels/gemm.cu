// Tensor-core GEMMs for the prefill and training shapes (M > 8): y[M, N] = A[M, K] B (+ y), bf16 operands in shared
// memory, fp32 accumulation in registers, written as bf16 or f32.
//
//   gemm_nt_*: y = x W^T       A = x [M, K],   B = W [N, K]  (both K-contiguous: the mma row.col layout directly)
//   gemm_nn_*: dx = dy W       A = dy [M, K'], B = W [K', N] (contraction K' = the weight's rows; ldmatrix.trans)
//
// Tiles: a CTA computes BM x BN of y with BK = 32 per stage; 128x128 with 8 warps (2 x 4, warp tile 64x32: 4 x 4
// m16n8k16 mma per 16 of K, 64 fp32 accumulators per thread) for large grids, 64x64 with 4 warps (2 x 2, warp tile
// 32x32) when the 128x128 grid would leave SMs idle (the launcher picks). Pipeline: 3 shared-memory stages filled by
// cp.async (16 bytes, zero-filled outside the matrix), one stage computed while the next two load; one barrier per
// stage. 128x128 uses 3 x 16 KiB = 48 KiB, the default limit, so no opt-in is needed.
//
// Shared layout: each tile row is a run of 16-byte chunks (8 bf16) with the chunk index XOR-swizzled by the row
// (common.cuh swizzle_chunk), so the 8 row addresses of every ldmatrix phase hit 8 different bank groups.
//   A tile [BM][32]: 4 chunks per row, A fragments by ldmatrix.x4 (rows lane%16, chunk lane/16).
//   B tile, NT [BN][32]: W rows are the mma's n, K-contiguous: ldmatrix.x4 gives two n8 fragments at once.
//   B tile, NN [32][BN]: rows are the contraction index, n contiguous: ldmatrix.x4.trans turns them into col-major
//   B fragments.
//
// Operand variants: "bf16" streams A and B with cp.async (needs K' % 8 == 0 for the A/B row lengths and 16-byte
// aligned bases: the launcher checks); "f32" reads an fp32 A (activations or dLogits) into registers with 16-byte
// loads before the stage's math and converts it to bf16 into shared memory after it (the same pipeline depth, so
// the load latency is still hidden); "unaligned" reads both operands element by element with bounds checks, for
// any K and any alignment (odd shapes in tests; correctness only).
#include "gemm_tiles.cuh"

// Shared memory per launch: kStages * (BM + BN) * 32 * 2 bytes (48 KiB for 128x128, 24 KiB for 64x64).
#define COAR_GEMM_KERNEL(name, BM, BN, WM, WN, LAYOUT, TA, VEC)                                                          \
    extern "C" __global__ void __launch_bounds__(WM * WN * 32)                                                      \
        name(const TA* a, const bf16* b, void* y, int m, int n, int k, int out_f32, int accumulate, int pair_stores) { \
        gemm::gemm_tc<BM, BN, WM, WN, gemm::Layout::LAYOUT, TA, bf16, VEC>(a, b, y, m, n, k, out_f32, accumulate, pair_stores);           \
    }

COAR_GEMM_KERNEL(gemm_nt_128_bf16, 128, 128, 2, 4, NT, bf16, true)
COAR_GEMM_KERNEL(gemm_nt_128_f32, 128, 128, 2, 4, NT, float, true)
COAR_GEMM_KERNEL(gemm_nt_128_unaligned_bf16, 128, 128, 2, 4, NT, bf16, false)
COAR_GEMM_KERNEL(gemm_nt_128_unaligned_f32, 128, 128, 2, 4, NT, float, false)
COAR_GEMM_KERNEL(gemm_nt_64_bf16, 64, 64, 2, 2, NT, bf16, true)
COAR_GEMM_KERNEL(gemm_nt_64_f32, 64, 64, 2, 2, NT, float, true)
COAR_GEMM_KERNEL(gemm_nt_64_unaligned_bf16, 64, 64, 2, 2, NT, bf16, false)
COAR_GEMM_KERNEL(gemm_nt_64_unaligned_f32, 64, 64, 2, 2, NT, float, false)
COAR_GEMM_KERNEL(gemm_nn_128_bf16, 128, 128, 2, 4, NN, bf16, true)
COAR_GEMM_KERNEL(gemm_nn_128_f32, 128, 128, 2, 4, NN, float, true)
COAR_GEMM_KERNEL(gemm_nn_128_unaligned_bf16, 128, 128, 2, 4, NN, bf16, false)
COAR_GEMM_KERNEL(gemm_nn_128_unaligned_f32, 128, 128, 2, 4, NN, float, false)
COAR_GEMM_KERNEL(gemm_nn_64_bf16, 64, 64, 2, 2, NN, bf16, true)
COAR_GEMM_KERNEL(gemm_nn_64_f32, 64, 64, 2, 2, NN, float, true)
COAR_GEMM_KERNEL(gemm_nn_64_unaligned_bf16, 64, 64, 2, 2, NN, bf16, false)
COAR_GEMM_KERNEL(gemm_nn_64_unaligned_f32, 64, 64, 2, 2, NN, float, false)
