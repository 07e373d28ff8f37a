// Attention backward over the KV cache (FlashAttention-2 style, recomputing P from the forward's lse):
//   P = exp(scale q.k - lse), dV += P^T dO, dP = dO V^T, dS = P (dP - Delta) with Delta = rowsum(dO * O),
//   dq = scale dS K, dK += scale dS^T q.
// Deterministic: no atomics on results. dq and dK/dV are computed by two kernels that each own their outputs and
// sum in a fixed order.
//
// attention_bwd_spans: one CTA; per cache row r, spans[r] = (first token, last token, largest position) of the
//   tokens in row r (first > last when none), so the key-side kernel scans only that token range.
// attention_bwd_delta_bf16: one warp per (t, h): Delta[t, h] in fp32 scratch.
// attention_bwd_dq_*: the forward's structure (grid (ceil(T / 64), H), 4 warps of 16 queries, one pass per cache row
//   in the tile) without the online softmax: per key tile of 32, S = Q K^T and dP = dO V^T (Q and dO fragments from
//   shared memory), dS in registers, dq += dS K (K by ldmatrix.trans). K and V load together, single-buffered.
// attention_bwd_dkdv_*: grid (ceil(capacity / 64), Hkv, rows): a CTA owns 64 keys of one row and KV head, each warp
//   16 of them, and scans the row's tokens in tiles of 32 (skipping tiles whose queries all precede its keys) for
//   every query head of the KV head's group: S^T = K Q^T and dP^T = V dO^T (K and V fragments from shared memory,
//   keys are the mma rows), then dV += P^T dO and dK += dS^T Q (dO and Q by ldmatrix.trans); at the end it adds
//   its fp32 sums into dKeys/dValues (f32 or bf16), the only CTA that touches those rows.
// Keys past the largest position of any query are zero-filled and never written. DMAX 128 or 64 as in attention.cu;
// "unaligned" variants load element by element. Performance is secondary to correctness here.
#include "attention_common.cuh"

namespace attn {

constexpr int kBwdThreads = 128;
constexpr int kBwdQ = 64;     // queries per dq CTA
constexpr int kBwdKV = 64;    // keys per dK/dV CTA
constexpr int kDqKV = 32;     // keys per tile of the dq kernel (its S and dP accumulators fit the registers)
constexpr int kBwdScanQ = 32; // queries per tile scanned by a dK/dV CTA
constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ void store_gradient(void* dst, int is_f32, long long at, float value, bool add) {
    if (is_f32) {
        float* p = static_cast<float*>(dst) + at;
        *p = add ? *p + value : value;
    } else {
        bf16* p = static_cast<bf16*>(dst) + at;
        *p = float_to_bf16(add ? bf16_to_float(*p) + value : value);
    }
}

__device__ __forceinline__ void row_spans(const int* __restrict__ rows, const int* __restrict__ positions, int tokens,
                                          int cache_rows, int capacity, int* __restrict__ spans) {
    for (int r = threadIdx.x; r < cache_rows; r += blockDim.x) {
        spans[3 * r] = 0x7fffffff;
        spans[3 * r + 1] = -1;
        spans[3 * r + 2] = -1;
    }
    __syncthreads();
    for (int t = threadIdx.x; t < tokens; t += blockDim.x) {
        const int row = token_row(rows, positions, t, tokens, cache_rows, capacity);
        if (row < 0) continue;
        atomicMin(&spans[3 * row], t);
        atomicMax(&spans[3 * row + 1], t);
        atomicMax(&spans[3 * row + 2], positions[t]);
    }
}

__device__ __forceinline__ void output_delta(const bf16* __restrict__ out, const bf16* __restrict__ dout,
                                             float* __restrict__ delta, int count, int dh) {
    const long long item = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    if (item >= count) return;
    const int lane = threadIdx.x % 32;
    float sum = 0.0f;
    for (int d = lane; d < dh; d += 32) sum += bf16_to_float(out[item * dh + d]) * bf16_to_float(dout[item * dh + d]);
    sum = warp_sum(sum);
    if (lane == 0) delta[item] = sum;
}

template <int DMAX, bool VEC>
__device__ __forceinline__ void attention_bwd_dq(const bf16* __restrict__ q, const bf16* __restrict__ keys,
                                                 const bf16* __restrict__ values, const int* __restrict__ key_tags,
                                                 const int* __restrict__ rows, const int* __restrict__ positions,
                                                 const int* __restrict__ tags, const float* __restrict__ lse,
                                                 const float* __restrict__ delta, const bf16* __restrict__ dout,
                                                 void* __restrict__ dq, int dq_f32, int tokens, int heads, int kv_heads,
                                                 int cache_rows, int capacity, int dh, float scale, float scale_log2) {
    constexpr int kChunks = DMAX / 8;
    constexpr int kKeyTiles = kDqKV / 8;
    extern __shared__ __align__(128) unsigned char attn_bwd_shared[];
    const unsigned int s_q = shared_address(attn_bwd_shared);
    const unsigned int s_do = s_q + kBwdQ * DMAX * 2;
    const unsigned int s_k = s_do + kBwdQ * DMAX * 2;
    const unsigned int s_v = s_k + kDqKV * DMAX * 2;
    int* key_tag = reinterpret_cast<int*>(attn_bwd_shared + (2 * kBwdQ + 2 * kDqKV) * DMAX * 2);
    const QueryTile tile{key_tag + kDqKV};
    float* q_lse2 = reinterpret_cast<float*>(tile.pass() + 2);
    float* q_delta = q_lse2 + kBwdQ;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int h = blockIdx.y, kvh = h / (heads / kv_heads);
    const int t0 = (gridDim.x - 1 - blockIdx.x) * kBwdQ;
    const int active_steps = (dh + 15) / 16;

    tile.load(rows, positions, tags, t0, tokens, cache_rows, capacity);
    if (threadIdx.x < kBwdQ) {
        const bool valid = t0 + (int)threadIdx.x < tokens;
        const long long at = (long long)(t0 + threadIdx.x) * heads + h;
        q_lse2[threadIdx.x] = valid ? lse[at] * kLog2e : 0.0f;
        q_delta[threadIdx.x] = valid ? delta[at] : 0.0f;
    }
    // Element offset of query row i of the tile in q and dout, or -1 past the last token.
    auto query_offset = [&](int i) { return t0 + i < tokens ? ((long long)(t0 + i) * heads + h) * dh : -1ll; };
    load_rows<DMAX, kBwdQ, kBwdThreads, VEC>(s_q, dh, q, [&](int i) -> const bf16* {
        const long long at = query_offset(i);
        return at >= 0 ? q + at : nullptr;
    });
    load_rows<DMAX, kBwdQ, kBwdThreads, VEC>(s_do, dh, dout, [&](int i) -> const bf16* {
        const long long at = query_offset(i);
        return at >= 0 ? dout + at : nullptr;
    });
    cp_async_commit();

    for (int row, last; tile.next(row, last);) {
        const QueryPair qp(tile, warp, lane, row);
        const float row_lse[2] = {q_lse2[qp.index[0]], q_lse2[qp.index[1]]};
        const float row_delta[2] = {q_delta[qp.index[0]], q_delta[qp.index[1]]};
        const RowKv kv(keys, values, key_tags, row, kvh, kv_heads, capacity, dh);
        const int tiles = last / kDqKV + 1;

        float acc[DMAX / 8][4];
        zero_accumulators(acc);

        for (int kt = 0; kt < tiles; ++kt) {
            const int j0 = kt * kDqKV;
            __syncthreads();  // the previous tile's readers of s_k, s_v and key_tag are done
            kv.load<DMAX, kDqKV, kBwdThreads, VEC>(s_k, kv.keys, j0, last, dh);
            kv.load<DMAX, kDqKV, kBwdThreads, VEC>(s_v, kv.values, j0, last, dh);
            kv.load_tags(key_tag, j0, last, kDqKV);
            cp_async_commit();
            cp_async_wait<0>();
            __syncthreads();

            // S = Q K^T and dP = dO V^T; then dS in place of S. Element e of key tile ni: query qp.index[e / 2],
            // key j0 + 8 ni + 2 (lane % 4) + e % 2.
            float s[kKeyTiles][4], dp[kKeyTiles][4];
            two_products<kChunks>(s, dp, s_q, s_do, s_k, s_v, warp * 16, active_steps);
#pragma unroll
            for (int ni = 0; ni < kKeyTiles; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int jl = ni * 8 + 2 * (lane & 3) + (e & 1);
                    const bool visible = qp.sees(e, j0 + jl, key_tag[jl]);
                    const float p = visible ? fast_exp2(s[ni][e] * scale_log2 - row_lse[e >> 1]) : 0.0f;
                    s[ni][e] = visible ? p * (dp[ni][e] - row_delta[e >> 1]) : 0.0f;
                }
            unsigned int ds[kDqKV / 16][4];
#pragma unroll
            for (int kk = 0; kk < kDqKV / 16; ++kk) accumulators_to_a(ds[kk], s[2 * kk], s[2 * kk + 1]);
            product_trans<kChunks>(acc, ds, s_k, active_steps);
        }

#pragma unroll
        for (int i = 0; i < 2; ++i) {
            if (!qp.active[i]) continue;
            const long long at = ((long long)(t0 + qp.index[i]) * heads + h) * dh;
#pragma unroll
            for (int dt = 0; dt < DMAX / 8; ++dt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int d = dt * 8 + 2 * (lane & 3) + e;
                    if (d < dh) store_gradient(dq, dq_f32, at + d, acc[dt][2 * i + e] * scale, false);
                }
        }
        tile.finish(row);
    }
}

template <int DMAX, bool VEC>
__device__ __forceinline__ void attention_bwd_dkdv(
    const bf16* __restrict__ q, const bf16* __restrict__ keys, const bf16* __restrict__ values,
    const int* __restrict__ key_tags, const int* __restrict__ rows, const int* __restrict__ positions,
    const int* __restrict__ tags, const float* __restrict__ lse, const float* __restrict__ delta,
    const bf16* __restrict__ dout, const int* __restrict__ spans, void* __restrict__ dkeys, void* __restrict__ dvalues,
    int dkeys_f32, int dvalues_f32, int tokens, int heads, int kv_heads, int cache_rows, int capacity, int dh,
    float scale, float scale_log2) {
    constexpr int kChunks = DMAX / 8;
    constexpr int kQueryTiles = kBwdScanQ / 8;
    extern __shared__ __align__(128) unsigned char attn_bwd_shared[];
    const unsigned int s_k = shared_address(attn_bwd_shared);
    const unsigned int s_v = s_k + kBwdKV * DMAX * 2;
    const unsigned int s_q = s_v + kBwdKV * DMAX * 2;
    const unsigned int s_do = s_q + kBwdScanQ * DMAX * 2;
    int* key_tag = reinterpret_cast<int*>(attn_bwd_shared + (2 * kBwdKV + 2 * kBwdScanQ) * DMAX * 2);
    int* q_pos = key_tag + kBwdKV;
    int* q_tag = q_pos + kBwdScanQ;
    float* q_lse2 = reinterpret_cast<float*>(q_tag + kBwdScanQ);
    float* q_delta = q_lse2 + kBwdScanQ;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int kvh = blockIdx.y, r = blockIdx.z;
    const int j0 = blockIdx.x * kBwdKV;
    const int first = spans[3 * r], last_token = spans[3 * r + 1], last = spans[3 * r + 2];
    if (last_token < 0 || j0 > last) return;
    const int group = heads / kv_heads;
    const int active_steps = (dh + 15) / 16;
    const RowKv kv(keys, values, key_tags, r, kvh, kv_heads, capacity, dh);

    kv.load<DMAX, kBwdKV, kBwdThreads, VEC>(s_k, kv.keys, j0, last, dh);
    kv.load<DMAX, kBwdKV, kBwdThreads, VEC>(s_v, kv.values, j0, last, dh);
    kv.load_tags(key_tag, j0, last, kBwdKV);
    cp_async_commit();

    float dk[DMAX / 8][4], dv[DMAX / 8][4];
    zero_accumulators(dk);
    zero_accumulators(dv);
    // This thread's two key rows of the tile (accumulator rows lane/4 and lane/4 + 8 of its warp's 16).
    const int ka = warp * 16 + lane / 4;

    for (int tq = first; tq <= last_token; tq += kBwdScanQ) {
        __syncthreads();  // the previous tile's readers of q_pos and q_tag are done
        bool reaches = false;
        if (threadIdx.x < kBwdScanQ) {
            const int t = tq + threadIdx.x;
            const bool member = t <= last_token && token_row(rows, positions, t, tokens, cache_rows, capacity) == r;
            q_pos[threadIdx.x] = member ? positions[t] : -1;
            q_tag[threadIdx.x] = member ? tags[t] : 0;
            reaches = member && positions[t] >= j0;
        }
        if (!__syncthreads_or(reaches)) continue;

        for (int hh = 0; hh < group; ++hh) {
            const int h = kvh * group + hh;
            if (hh > 0) __syncthreads();  // the previous head's readers of s_q, s_do and the query stats are done
            auto query_offset = [&](int i) { return q_pos[i] >= 0 ? ((long long)(tq + i) * heads + h) * dh : -1ll; };
            load_rows<DMAX, kBwdScanQ, kBwdThreads, VEC>(s_q, dh, q, [&](int i) -> const bf16* {
                const long long at = query_offset(i);
                return at >= 0 ? q + at : nullptr;
            });
            load_rows<DMAX, kBwdScanQ, kBwdThreads, VEC>(s_do, dh, dout, [&](int i) -> const bf16* {
                const long long at = query_offset(i);
                return at >= 0 ? dout + at : nullptr;
            });
            if (threadIdx.x < kBwdScanQ) {
                const bool member = q_pos[threadIdx.x] >= 0;
                const long long at = (long long)(tq + threadIdx.x) * heads + h;
                q_lse2[threadIdx.x] = member ? lse[at] * kLog2e : 0.0f;
                q_delta[threadIdx.x] = member ? delta[at] : 0.0f;
            }
            cp_async_commit();
            cp_async_wait<0>();
            __syncthreads();

            // S^T = K Q^T and dP^T = V dO^T; then P^T in st and dS^T in dpt. Element e of query tile ni: key row
            // ka (e < 2) or ka + 8, query tq + 8 ni + 2 (lane % 4) + e % 2.
            float st[kQueryTiles][4], dpt[kQueryTiles][4];
            two_products<kChunks>(st, dpt, s_k, s_v, s_q, s_do, warp * 16, active_steps);
#pragma unroll
            for (int ni = 0; ni < kQueryTiles; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int i = ni * 8 + 2 * (lane & 3) + (e & 1);
                    const int jl = e < 2 ? ka : ka + 8;
                    const bool visible = j0 + jl <= q_pos[i] && tags_visible(q_tag[i], key_tag[jl]);
                    const float p = visible ? fast_exp2(st[ni][e] * scale_log2 - q_lse2[i]) : 0.0f;
                    st[ni][e] = p;
                    dpt[ni][e] = visible ? p * (dpt[ni][e] - q_delta[i]) : 0.0f;
                }
            unsigned int pa[kBwdScanQ / 16][4], sa[kBwdScanQ / 16][4];
#pragma unroll
            for (int kk = 0; kk < kBwdScanQ / 16; ++kk) {
                accumulators_to_a(pa[kk], st[2 * kk], st[2 * kk + 1]);
                accumulators_to_a(sa[kk], dpt[2 * kk], dpt[2 * kk + 1]);
            }
            product_trans<kChunks>(dv, pa, s_do, active_steps);
            product_trans<kChunks>(dk, sa, s_q, active_steps);
        }
    }
    cp_async_wait<0>();  // when every token tile was skipped, the K/V copies are still in flight

#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const int j = j0 + ka + 8 * half;
        if (j > last) continue;
        const long long at = (long long)j * dh + (kv.keys - keys);
#pragma unroll
        for (int dt = 0; dt < DMAX / 8; ++dt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int d = dt * 8 + 2 * (lane & 3) + e;
                if (d >= dh) continue;
                store_gradient(dkeys, dkeys_f32, at + d, dk[dt][2 * half + e] * scale, true);
                store_gradient(dvalues, dvalues_f32, at + d, dv[dt][2 * half + e], true);
            }
    }
}

}  // namespace attn

// One CTA of 1024 threads. spans: [cache_rows, 3] I32.
extern "C" __global__ void __launch_bounds__(1024)
    attention_bwd_spans(const int* rows, const int* positions, int tokens, int cache_rows, int capacity, int* spans) {
    attn::row_spans(rows, positions, tokens, cache_rows, capacity, spans);
}

// ceil(T * H / 8) CTAs of 256 threads (a warp per (t, h)).
extern "C" __global__ void __launch_bounds__(256)
    attention_bwd_delta_bf16(const bf16* out, const bf16* dout, float* delta, int count, int dh) {
    attn::output_delta(out, dout, delta, count, dh);
}

// Grid (ceil(T / 64), H), 128 threads, dynamic shared memory (2 * 64 + 2 * 32) * DMAX * 2 + (32 + 5 * 64 + 2) * 4
// bytes: Q and dO tiles, K and V tiles, key tags, the query tile, lse and Delta.
// (The explicit minimum of 1 CTA per SM keeps ptxas 11.8 from capping sm_80 registers below need and spilling.)
#define COAR_ATTENTION_BWD_DQ_KERNEL(name, DMAX, VEC)                                                                \
    extern "C" __global__ void __launch_bounds__(attn::kBwdThreads, 1)                                               \
        name(const bf16* q, const bf16* keys, const bf16* values, const int* key_tags, const int* rows,              \
             const int* positions, const int* tags, const float* lse, const float* delta, const bf16* dout, void* dq, \
             int dq_f32, int tokens, int heads, int kv_heads, int cache_rows, int capacity, int dh, float scale,     \
             float scale_log2) {                                                                                     \
        attn::attention_bwd_dq<DMAX, VEC>(q, keys, values, key_tags, rows, positions, tags, lse, delta, dout, dq,    \
                                          dq_f32, tokens, heads, kv_heads, cache_rows, capacity, dh, scale,          \
                                          scale_log2);                                                               \
    }

// Grid (ceil(capacity / 64), Hkv, cache rows), 128 threads, dynamic shared memory (2 * 64 + 2 * 32) * DMAX * 2
// + (64 + 4 * 32) * 4 bytes.
#define COAR_ATTENTION_BWD_DKDV_KERNEL(name, DMAX, VEC)                                                              \
    extern "C" __global__ void __launch_bounds__(attn::kBwdThreads, 1)                                               \
        name(const bf16* q, const bf16* keys, const bf16* values, const int* key_tags, const int* rows,              \
             const int* positions, const int* tags, const float* lse, const float* delta, const bf16* dout,          \
             const int* spans, void* dkeys, void* dvalues, int dkeys_f32, int dvalues_f32, int tokens, int heads,    \
             int kv_heads, int cache_rows, int capacity, int dh, float scale, float scale_log2) {                    \
        attn::attention_bwd_dkdv<DMAX, VEC>(q, keys, values, key_tags, rows, positions, tags, lse, delta, dout,      \
                                            spans, dkeys, dvalues, dkeys_f32, dvalues_f32, tokens, heads, kv_heads,  \
                                            cache_rows, capacity, dh, scale, scale_log2);                            \
    }

COAR_ATTENTION_BWD_DQ_KERNEL(attention_bwd_dq_128_bf16, 128, true)
COAR_ATTENTION_BWD_DQ_KERNEL(attention_bwd_dq_128_unaligned_bf16, 128, false)
COAR_ATTENTION_BWD_DQ_KERNEL(attention_bwd_dq_64_bf16, 64, true)
COAR_ATTENTION_BWD_DQ_KERNEL(attention_bwd_dq_64_unaligned_bf16, 64, false)
COAR_ATTENTION_BWD_DKDV_KERNEL(attention_bwd_dkdv_128_bf16, 128, true)
COAR_ATTENTION_BWD_DKDV_KERNEL(attention_bwd_dkdv_128_unaligned_bf16, 128, false)
COAR_ATTENTION_BWD_DKDV_KERNEL(attention_bwd_dkdv_64_bf16, 64, true)
COAR_ATTENTION_BWD_DKDV_KERNEL(attention_bwd_dkdv_64_unaligned_bf16, 64, false)
