// The tensor-core GEMM mainloop shared by gemm.cu (y = x W^T, dx = dy W) and weight_gradient.cu (dW = dy^T x):
// bf16 operand tiles in swizzled shared memory, fp32 accumulation in registers. Layouts, tiles, pipeline and
// operand variants are described at the top of gemm.cu.
#pragma once
#include "common.cuh"

namespace gemm {

constexpr int kBK = 32;
constexpr int kStages = 3;

// Where the operands' contraction index runs: y[m, n] = sum_c A(m, c) B(c, n), with
//   NT: A(m, c) = a[m * k + c], B(c, n) = b[n * k + c]   (y = x W^T: both contraction-contiguous)
//   NN: A(m, c) = a[m * k + c], B(c, n) = b[c * n_len + n] (dx = dy W: B rows are the contraction)
//   TN: A(m, c) = a[c * m_len + m], B(c, n) = b[c * n_len + n] (dW = dy^T x: both operands' rows are the contraction,
//       the tokens; the A tile is stored [32][BM] and ldmatrix.trans turns it into row-major A fragments)
enum class Layout { NT, NN, TN };

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(bf16 v) { return bf16_to_float(v); }

template <typename T>
__device__ __forceinline__ T zero_of();
template <>
__device__ __forceinline__ float zero_of<float>() { return 0.0f; }
template <>
__device__ __forceinline__ bf16 zero_of<bf16>() { return bf16{0}; }

// Moves one operand tile, ROWS x COLS elements at (r0, c0) of a row-major [rows, cols] matrix with leading dimension
// ld, into a swizzled bf16 tile; elements outside the matrix become 0. COLS is 32 (a K slice) or BM/BN (a tile whose rows are the contraction).
// On the cp.async path fetch() does the whole move; otherwise fetch() loads into registers and store() converts
// and writes them, so the caller can put the math of another stage between the two.
template <int ROWS, int COLS, int THREADS, typename T, bool VEC>
struct TileLoader {
    static constexpr int kChunksPerRow = COLS / 8;
    static constexpr int kPerThread = ROWS * kChunksPerRow / THREADS;
    static constexpr bool kAsync = VEC && sizeof(T) == 2;
    static_assert(ROWS * kChunksPerRow % THREADS == 0, "tile chunks must divide evenly among the threads");

    T staged[kPerThread][8];

    __device__ __forceinline__ void fetch(const T* __restrict__ src, long long ld, int rows, int cols, int r0, int c0,
                                          unsigned int tile) {
#pragma unroll
        for (int i = 0; i < kPerThread; ++i) {
            const int id = threadIdx.x + i * THREADS;
            const int row = id / kChunksPerRow, chunk = id % kChunksPerRow;
            const int gr = r0 + row, gc = c0 + chunk * 8;
            if constexpr (kAsync) {
                // VEC guarantees cols % 8 == 0: a chunk is wholly inside or wholly outside.
                const bool inside = gr < rows && gc < cols;
                const T* p = inside ? src + gr * ld + gc : src;
                cp_async_16(tile + tile_offset<kChunksPerRow>(row, chunk) * 2, p, inside);
            } else if constexpr (VEC) {
                const bool inside = gr < rows && gc < cols;
                if (inside) {
                    const float4 lo = *reinterpret_cast<const float4*>(src + gr * ld + gc);
                    const float4 hi = *reinterpret_cast<const float4*>(src + gr * ld + gc + 4);
                    staged[i][0] = lo.x; staged[i][1] = lo.y; staged[i][2] = lo.z; staged[i][3] = lo.w;
                    staged[i][4] = hi.x; staged[i][5] = hi.y; staged[i][6] = hi.z; staged[i][7] = hi.w;
                } else {
#pragma unroll
                    for (int e = 0; e < 8; ++e) staged[i][e] = zero_of<T>();
                }
            } else {
#pragma unroll
                for (int e = 0; e < 8; ++e)
                    staged[i][e] = (gr < rows && gc + e < cols) ? src[gr * ld + gc + e] : zero_of<T>();
            }
        }
    }

    __device__ __forceinline__ void store(unsigned int tile) const {
        if constexpr (!kAsync) {
#pragma unroll
            for (int i = 0; i < kPerThread; ++i) {
                const int id = threadIdx.x + i * THREADS;
                const int row = id / kChunksPerRow, chunk = id % kChunksPerRow;
                st_shared_16(tile + tile_offset<kChunksPerRow>(row, chunk) * 2,
                             pack_bf16x2(to_float(staged[i][0]), to_float(staged[i][1])),
                             pack_bf16x2(to_float(staged[i][2]), to_float(staged[i][3])),
                             pack_bf16x2(to_float(staged[i][4]), to_float(staged[i][5])),
                             pack_bf16x2(to_float(staged[i][6]), to_float(staged[i][7])));
            }
        }
    }
};

// Writes two adjacent outputs (row, col) and (row, col + 1), adding what is there when accumulating. Paired
// stores need an even N and an aligned y (pair_stores); otherwise each element is checked and stored alone.
__device__ __forceinline__ void store_pair(void* __restrict__ y, int out_f32, int accumulate, int pair_stores, int n,
                                           int row, int col, float v0, float v1) {
    const long long at = (long long)row * n + col;
    if (pair_stores) {
        if (col >= n) return;
        if (out_f32) {
            float2* p = reinterpret_cast<float2*>(static_cast<float*>(y) + at);
            if (accumulate) {
                const float2 old = *p;
                v0 += old.x;
                v1 += old.y;
            }
            *p = make_float2(v0, v1);
        } else {
            unsigned int* p = reinterpret_cast<unsigned int*>(static_cast<bf16*>(y) + at);
            if (accumulate) {
                const unsigned int old = *p;
                v0 += bf16x2_low(old);
                v1 += bf16x2_high(old);
            }
            *p = pack_bf16x2(v0, v1);
        }
        return;
    }
#pragma unroll
    for (int e = 0; e < 2; ++e) {
        if (col + e >= n) continue;
        const float v = e == 0 ? v0 : v1;
        if (out_f32) {
            float* p = static_cast<float*>(y) + at + e;
            *p = accumulate ? *p + v : v;
        } else {
            bf16* p = static_cast<bf16*>(y) + at + e;
            *p = float_to_bf16(accumulate ? bf16_to_float(*p) + v : v);
        }
    }
}

// y[m, n] = sum_c A(m, c) B(c, n) (+ y) over the contraction length k, operands laid out as L says.
template <int BM, int BN, int WARPS_M, int WARPS_N, Layout L, typename TA, typename TB, bool VEC>
__device__ __forceinline__ void gemm_tc(const TA* __restrict__ a, const TB* __restrict__ b, void* __restrict__ y,
                                        int m, int n, int k, int out_f32, int accumulate, int pair_stores) {
    constexpr int kThreads = WARPS_M * WARPS_N * 32;
    constexpr int kWarpM = BM / WARPS_M, kWarpN = BN / WARPS_N;
    constexpr int kMi = kWarpM / 16, kNi = kWarpN / 8;
    static_assert(kWarpM % 16 == 0 && kWarpN % 16 == 0, "warp tile: m16 and pairs of n8");
    constexpr int kTileA = BM * kBK, kTileB = BN * kBK;
    constexpr int kChunksK = kBK / 8;

    extern __shared__ __align__(128) unsigned char gemm_shared[];
    const unsigned int smem = shared_address(gemm_shared);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int wm = warp / WARPS_N, wn = warp % WARPS_N;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;

    constexpr bool kTransA = L == Layout::TN, kTransB = L != Layout::NT;
    TileLoader<kTransA ? kBK : BM, kTransA ? BM : kBK, kThreads, TA, VEC> load_a;
    TileLoader<kTransB ? kBK : BN, kTransB ? BN : kBK, kThreads, TB, VEC> load_b;

    auto stage_a = [&](int stage) { return smem + stage * (kTileA + kTileB) * 2; };
    auto stage_b = [&](int stage) { return smem + (stage * (kTileA + kTileB) + kTileA) * 2; };
    auto fetch = [&](int kt, int stage) {
        const int k0 = kt * kBK;
        if constexpr (kTransA)
            load_a.fetch(a, m, k, m, k0, m0, stage_a(stage));
        else
            load_a.fetch(a, k, m, k, m0, k0, stage_a(stage));
        if constexpr (kTransB)
            load_b.fetch(b, n, k, n, k0, n0, stage_b(stage));
        else
            load_b.fetch(b, k, n, k, n0, k0, stage_b(stage));
    };
    auto store = [&](int stage) {
        load_a.store(stage_a(stage));
        load_b.store(stage_b(stage));
    };

    float acc[kMi][kNi][4];
#pragma unroll
    for (int mi = 0; mi < kMi; ++mi) zero_accumulators(acc[mi]);

    const int ktiles = (k + kBK - 1) / kBK;
#pragma unroll
    for (int s = 0; s < kStages - 1; ++s) {
        if (s < ktiles) {
            fetch(s, s);
            store(s);
        }
        cp_async_commit();
    }

    for (int kt = 0; kt < ktiles; ++kt) {
        // Stage kt has landed (this thread's copies by the wait, everyone's by the barrier), and every warp has
        // finished reading the stage that the loads below overwrite (it was computed in iteration kt - 1).
        cp_async_wait<kStages - 2>();
        __syncthreads();
        const int next = kt + kStages - 1;
        const bool has_next = next < ktiles;
        if (has_next) fetch(next, next % kStages);
        cp_async_commit();

        const unsigned int sa = stage_a(kt % kStages), sb = stage_b(kt % kStages);
#pragma unroll
        for (int kk = 0; kk < kBK; kk += 16) {
            unsigned int fa[kMi][4], fb[kNi / 2][4];
#pragma unroll
            for (int mi = 0; mi < kMi; ++mi) {
                if constexpr (kTransA)
                    ldmatrix_a_trans<BM / 8>(fa[mi], sa, wm * kWarpM + mi * 16, kk);
                else
                    ldmatrix_a<kChunksK>(fa[mi], sa, wm * kWarpM + mi * 16, kk / 16);
            }
#pragma unroll
            for (int p = 0; p < kNi / 2; ++p) {
                if constexpr (kTransB)
                    ldmatrix_b_pair_trans<BN / 8>(fb[p], sb, kk, (wn * kWarpN) / 16 + p);
                else
                    ldmatrix_b_pair<kChunksK>(fb[p], sb, wn * kWarpN + p * 16, kk / 16);
            }
#pragma unroll
            for (int mi = 0; mi < kMi; ++mi)
#pragma unroll
                for (int ni = 0; ni < kNi; ++ni)
                    mma_m16n8k16_bf16(acc[mi][ni], fa[mi], fb[ni / 2][(ni % 2) * 2], fb[ni / 2][(ni % 2) * 2 + 1]);
        }

        if (has_next) store(next % kStages);
    }

    // Accumulator (mi, ni): rows lane/4 and lane/4 + 8 of the m16 tile, columns 2 (lane % 4) and the next.
#pragma unroll
    for (int mi = 0; mi < kMi; ++mi) {
        const int row = m0 + wm * kWarpM + mi * 16 + (lane >> 2);
#pragma unroll
        for (int ni = 0; ni < kNi; ++ni) {
            const int col = n0 + wn * kWarpN + ni * 8 + 2 * (lane & 3);
            if (row < m) store_pair(y, out_f32, accumulate, pair_stores, n, row, col, acc[mi][ni][0], acc[mi][ni][1]);
            if (row + 8 < m)
                store_pair(y, out_f32, accumulate, pair_stores, n, row + 8, col, acc[mi][ni][2], acc[mi][ni][3]);
        }
    }
}

}  // namespace gemm
