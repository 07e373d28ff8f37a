// fp32 SIMT GEMM for f32 weights (tests, converted checkpoints kept in f32): y[M, N] = A[M, K] B (+ y) with all
// math in fp32, no tensor cores, so the result is as close to the CPU reference as fp32 summation order allows.
// B(k, n) = b[k * b_stride_k + n * b_stride_n] covers both layouts: y = x W^T (W [N, K]: strides 1, K) and
// dx = dy W (W [K, N] as the contraction runs over W's rows: strides N, 1).
//
// A CTA of 256 threads computes a 64x64 tile in steps of 16 of K through shared memory; thread (tx, ty) owns rows
// ty + 16 i and columns tx + 16 j (i, j < 4), so a warp reads broadcast A values and 16 distinct B columns.
// Loads are bounds-checked element by element (any shape, any alignment). Correctness over speed: this is not on a
// hot path of the bf16 model.
#include "common.cuh"

namespace simt {

constexpr int kTile = 64;
constexpr int kSlice = 16;
constexpr int kThreads = 256;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(bf16 v) { return bf16_to_float(v); }

template <typename TA>
__device__ __forceinline__ void gemm_simt(const TA* __restrict__ a, const float* __restrict__ b, void* __restrict__ y,
                                          int m, int n, int k, long long b_stride_k, long long b_stride_n, int out_f32,
                                          int accumulate) {
    // +4 keeps the 16-apart rows written by one warp in different banks.
    __shared__ float as[kSlice][kTile + 4];
    __shared__ float bs[kSlice][kTile + 4];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int m0 = blockIdx.x * kTile, n0 = blockIdx.y * kTile;
    const bool b_n_contiguous = b_stride_n == 1;

    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < k; k0 += kSlice) {
        for (int idx = threadIdx.x; idx < kTile * kSlice; idx += kThreads) {
            const int r = idx / kSlice, kk = idx % kSlice;
            as[kk][r] = (m0 + r < m && k0 + kk < k) ? to_float(a[(long long)(m0 + r) * k + k0 + kk]) : 0.0f;
        }
        for (int idx = threadIdx.x; idx < kTile * kSlice; idx += kThreads) {
            // Walk the contiguous dimension of B fastest, so neighbouring threads read neighbouring addresses.
            const int c = b_n_contiguous ? idx % kTile : idx / kSlice;
            const int kk = b_n_contiguous ? idx / kTile : idx % kSlice;
            bs[kk][c] = (n0 + c < n && k0 + kk < k) ? b[(long long)(k0 + kk) * b_stride_k + (long long)(n0 + c) * b_stride_n]
                                                    : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < kSlice; ++kk) {
            float av[4], bv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int row = m0 + ty + 16 * i;
        if (row >= m) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int col = n0 + tx + 16 * j;
            if (col >= n) continue;
            const long long at = (long long)row * n + col;
            if (out_f32) {
                float* p = static_cast<float*>(y) + at;
                *p = accumulate ? *p + acc[i][j] : acc[i][j];
            } else {
                bf16* p = static_cast<bf16*>(y) + at;
                *p = float_to_bf16(accumulate ? bf16_to_float(*p) + acc[i][j] : acc[i][j]);
            }
        }
    }
}

}  // namespace simt

// Grid: (ceil(M / 64), ceil(N / 64)) CTAs of 256 threads. The suffix is A's dtype; B is f32.
#define COAR_GEMM_SIMT_KERNEL(name, TA)                                                                              \
    extern "C" __global__ void __launch_bounds__(simt::kThreads)                                                     \
        name(const TA* a, const float* b, void* y, int m, int n, int k, long long b_stride_k, long long b_stride_n,  \
             int out_f32, int accumulate) {                                                                          \
        simt::gemm_simt<TA>(a, b, y, m, n, k, b_stride_k, b_stride_n, out_f32, accumulate);                          \
    }

COAR_GEMM_SIMT_KERNEL(gemm_simt_f32, float)
COAR_GEMM_SIMT_KERNEL(gemm_simt_bf16, bf16)
