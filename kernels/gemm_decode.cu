// Decode GEMV: y[M, N] = x[M, K] W[N, K]^T (+ y) for M <= 8 (a lock-step decode batch). Weight-bandwidth bound:
// every byte of W is read once, so the kernel is built to keep many 16-byte weight loads in flight.
//
// A CTA of 256 threads owns 4 weight rows and splits K among its threads: thread t reads 16-byte chunks
// t, t + 256, ... of each of the 4 rows (a warp reads 512 contiguous bytes of a row per load), two chunks per row
// per iteration, so 8 independent 16-byte weight loads are in flight per thread before the first multiply. Weights
// are loaded with ld.global.nc.L1::no_allocate (streamed once); the few x rows are re-read from L1/L2 by every CTA
// and reused for the 4 weight rows. Each thread keeps M x 4 fp32 partial sums; warp shuffles then shared memory
// reduce them, and M x 4 threads write y. For N = 4096 this is 1024 CTAs of 8 warps, about one full wave on an
// H100 (132 SMs x 64 warps).
//
// The 16-byte path needs K % 8 == 0 and 16-byte aligned x and W (the launcher checks; `vec`); otherwise an
// element-wise loop with the same reduction runs. x and W may each be bf16 or f32 (the f32 weights of tests).
#include "common.cuh"

namespace gemv {

constexpr int kThreads = 256;
constexpr int kRows = 4;
constexpr int kMaxM = 8;
constexpr int kUnroll = 2;

__device__ __forceinline__ unsigned int word(const uint4& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Eight consecutive elements as loaded (16 bytes of bf16, 32 of f32); at(e) widens element e (e a constant).
template <typename T>
struct Raw8;

template <>
struct Raw8<bf16> {
    uint4 v;
    __device__ __forceinline__ float at(int e) const {
        const unsigned int pair = word(v, e >> 1);
        return (e & 1) ? bf16x2_high(pair) : bf16x2_low(pair);
    }
    __device__ __forceinline__ static Raw8 load(const bf16* p, bool stream) {
        return Raw8{stream ? ld_stream_16(p) : ld_global_16(p)};
    }
    __device__ __forceinline__ static Raw8 zero() { return Raw8{make_uint4(0, 0, 0, 0)}; }
};

template <>
struct Raw8<float> {
    uint4 lo, hi;
    __device__ __forceinline__ float at(int e) const { return __uint_as_float(word(e < 4 ? lo : hi, e & 3)); }
    __device__ __forceinline__ static Raw8 load(const float* p, bool stream) {
        return stream ? Raw8{ld_stream_16(p), ld_stream_16(p + 4)} : Raw8{ld_global_16(p), ld_global_16(p + 4)};
    }
    __device__ __forceinline__ static Raw8 zero() { return Raw8{make_uint4(0, 0, 0, 0), make_uint4(0, 0, 0, 0)}; }
};

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(bf16 v) { return bf16_to_float(v); }

template <typename TX, typename TW>
__device__ __forceinline__ void gemv(const TX* __restrict__ x, const TW* __restrict__ w, void* __restrict__ y, int m,
                                     int n, int k, int out_f32, int accumulate, int vec) {
    __shared__ float partial[kThreads / 32][kMaxM * kRows];
    const int n0 = blockIdx.x * kRows;
    const int rows = min(kRows, n - n0);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

    float acc[kMaxM][kRows];
#pragma unroll
    for (int i = 0; i < kMaxM; ++i)
#pragma unroll
        for (int r = 0; r < kRows; ++r) acc[i][r] = 0.0f;

    if (vec) {
        const int chunks = k / 8;
        for (int c0 = threadIdx.x; c0 < chunks; c0 += kThreads * kUnroll) {
            Raw8<TW> wr[kUnroll][kRows];
#pragma unroll
            for (int u = 0; u < kUnroll; ++u)
#pragma unroll
                for (int r = 0; r < kRows; ++r) {
                    const int c = c0 + u * kThreads;
                    wr[u][r] = (c < chunks && r < rows) ? Raw8<TW>::load(w + (long long)(n0 + r) * k + c * 8, true)
                                                        : Raw8<TW>::zero();
                }
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
                const int c = c0 + u * kThreads;
                if (c >= chunks) break;
#pragma unroll
                for (int i = 0; i < kMaxM; ++i) {
                    if (i >= m) break;
                    const Raw8<TX> xr = Raw8<TX>::load(x + (long long)i * k + c * 8, false);
#pragma unroll
                    for (int e = 0; e < 8; ++e) {
                        const float xv = xr.at(e);
#pragma unroll
                        for (int r = 0; r < kRows; ++r) acc[i][r] = fmaf(xv, wr[u][r].at(e), acc[i][r]);
                    }
                }
            }
        }
    } else {
        for (int kk = threadIdx.x; kk < k; kk += kThreads) {
            float wv[kRows];
#pragma unroll
            for (int r = 0; r < kRows; ++r) wv[r] = r < rows ? to_float(w[(long long)(n0 + r) * k + kk]) : 0.0f;
#pragma unroll
            for (int i = 0; i < kMaxM; ++i) {
                if (i >= m) break;
                const float xv = to_float(x[(long long)i * k + kk]);
#pragma unroll
                for (int r = 0; r < kRows; ++r) acc[i][r] = fmaf(xv, wv[r], acc[i][r]);
            }
        }
    }

#pragma unroll
    for (int i = 0; i < kMaxM; ++i) {
        if (i >= m) break;
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
            const float v = warp_sum(acc[i][r]);
            if (lane == 0) partial[warp][i * kRows + r] = v;
        }
    }
    __syncthreads();
    const int i = threadIdx.x / kRows, r = threadIdx.x % kRows;
    if (i < m && r < rows) {
        float sum = 0.0f;
#pragma unroll
        for (int wi = 0; wi < kThreads / 32; ++wi) sum += partial[wi][threadIdx.x];
        const long long at = (long long)i * n + n0 + r;
        if (out_f32) {
            float* p = static_cast<float*>(y) + at;
            *p = accumulate ? *p + sum : sum;
        } else {
            bf16* p = static_cast<bf16*>(y) + at;
            *p = float_to_bf16(accumulate ? bf16_to_float(*p) + sum : sum);
        }
    }
}

}  // namespace gemv

// Grid: ceil(N / 4) CTAs of 256 threads; m <= 8.
#define COAR_GEMV_KERNEL(name, TX, TW)                                                                                \
    extern "C" __global__ void __launch_bounds__(gemv::kThreads)                                                      \
        name(const TX* x, const TW* w, void* y, int m, int n, int k, int out_f32, int accumulate, int vec) {          \
        gemv::gemv<TX, TW>(x, w, y, m, n, k, out_f32, accumulate, vec);                                               \
    }

COAR_GEMV_KERNEL(gemv_nt_bf16_bf16, bf16, bf16)
COAR_GEMV_KERNEL(gemv_nt_f32_bf16, float, bf16)
COAR_GEMV_KERNEL(gemv_nt_bf16_f32, bf16, float)
COAR_GEMV_KERNEL(gemv_nt_f32_f32, float, float)
