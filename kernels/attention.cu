// Attention forward over the KV cache for prefill-shaped batches (many queries per cache row), FlashAttention-2
// style: out[t, h] = softmax(scale q[t, h] . K[row(t), kvh]^T, masked) V[row(t), kvh] with key j visible to query t
// iff j <= pos[t] and the identity rule allows it (attention_common.cuh); kvh = h / (H / Hkv). lse[t, h] (natural
// log-sum-exp of the scaled scores) is written when lse is not null.
//
// Grid (ceil(T / 64), H); a CTA of 4 warps owns 64 consecutive tokens of one head, each warp 16 of them, and
// processes them in passes, one per distinct cache row among the tile's tokens (one pass for a tile inside a packed
// row). A pass streams the row's keys in tiles of 64 up to the largest position among its queries:
//   S = Q K^T      mma m16n8k16, Q fragments kept in registers (loaded once), K tile by ldmatrix (non-transposed);
//   online softmax in fp32, base 2 (scores pre-multiplied by scale * log2 e), each query row's max and sum spread
//                  over the 4 lanes of a quad; masked scores are -inf and exponentiate to exactly 0;
//   O += P V       P rounded to bf16 straight from the S accumulators into A fragments; V tile by ldmatrix.trans.
// Pipeline: one K and one V buffer; V of this tile loads while S is computed, K of the next tile while P V is.
// Key rows past the pass's last position are zero-filled, never read (a cache slot nothing wrote may hold NaN).
// Head dims: DMAX 128 (the 7B) or 64 (any dh <= 64); dims past dh are zero in shared memory and the k16 steps
// holding only padding are skipped. Shared memory: Q, K, V tiles of 64 x DMAX bf16 (48 KiB at DMAX 128, so the
// launcher opts in above the default 48 KiB) plus the tile's token bookkeeping.
// "unaligned" variants load element by element (dh % 8 != 0 or unaligned tensors) and store outputs one by one.
#include "attention_common.cuh"

namespace attn {

constexpr int kFwdQ = 64;
constexpr int kFwdKV = 64;
constexpr int kFwdThreads = 128;

template <int DMAX, bool VEC>
__device__ __forceinline__ void attention_fwd(const bf16* __restrict__ q, const bf16* __restrict__ keys,
                                              const bf16* __restrict__ values, const int* __restrict__ key_tags,
                                              const int* __restrict__ rows, const int* __restrict__ positions,
                                              const int* __restrict__ tags, bf16* __restrict__ out,
                                              float* __restrict__ lse, int tokens, int heads, int kv_heads,
                                              int cache_rows, int capacity, int dh, float scale_log2) {
    constexpr int kChunks = DMAX / 8;
    constexpr int kSteps = DMAX / 16;
    constexpr int kKeyTiles = kFwdKV / 8;
    extern __shared__ __align__(128) unsigned char attn_shared[];
    const unsigned int s_q = shared_address(attn_shared);
    const unsigned int s_k = s_q + kFwdQ * DMAX * 2;
    const unsigned int s_v = s_k + kFwdKV * DMAX * 2;
    int* key_tag = reinterpret_cast<int*>(attn_shared + (kFwdQ + 2 * kFwdKV) * DMAX * 2);
    const QueryTile tile{key_tag + kFwdKV};

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int h = blockIdx.y, kvh = h / (heads / kv_heads);
    // Later tiles of a packed row reach further back: start them first.
    const int t0 = (gridDim.x - 1 - blockIdx.x) * kFwdQ;
    const int active_steps = (dh + 15) / 16;

    tile.load(rows, positions, tags, t0, tokens, cache_rows, capacity);
    load_rows<DMAX, kFwdQ, kFwdThreads, VEC>(s_q, dh, q, [&](int i) -> const bf16* {
        return t0 + i < tokens ? q + ((long long)(t0 + i) * heads + h) * dh : nullptr;
    });
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    unsigned int qf[kSteps][4];
#pragma unroll
    for (int ks = 0; ks < kSteps; ++ks) ldmatrix_a<kChunks>(qf[ks], s_q, warp * 16, ks);

    for (int row, last; tile.next(row, last);) {
        const QueryPair qp(tile, warp, lane, row);
        const RowKv kv(keys, values, key_tags, row, kvh, kv_heads, capacity, dh);
        const int tiles = last / kFwdKV + 1;

        float o[DMAX / 8][4];
        zero_accumulators(o);
        float m[2] = {minus_infinity(), minus_infinity()}, l[2] = {0.0f, 0.0f};

        kv.load<DMAX, kFwdKV, kFwdThreads, VEC>(s_k, kv.keys, 0, last, dh);
        kv.load_tags(key_tag, 0, last, kFwdKV);
        cp_async_commit();

        for (int kt = 0; kt < tiles; ++kt) {
            const int j0 = kt * kFwdKV;
            __syncthreads();  // P V of the previous tile is done with s_v
            kv.load<DMAX, kFwdKV, kFwdThreads, VEC>(s_v, kv.values, j0, last, dh);
            cp_async_commit();
            cp_async_wait<1>();  // this thread's K copies (older than the V group) have landed
            __syncthreads();     // everyone's have, and the key tags are written

            float s[kKeyTiles][4];
            zero_accumulators(s);
#pragma unroll
            for (int ks = 0; ks < kSteps; ++ks) {
                if (ks >= active_steps) break;
#pragma unroll
                for (int p = 0; p < kKeyTiles / 2; ++p) {
                    unsigned int b[4];
                    ldmatrix_b_pair<kChunks>(b, s_k, p * 16, ks);
                    mma_m16n8k16_bf16(s[2 * p], qf[ks], b[0], b[1]);
                    mma_m16n8k16_bf16(s[2 * p + 1], qf[ks], b[2], b[3]);
                }
            }

            // Element e of key tile ni: query qp.index[e / 2], key j0 + 8 ni + 2 (lane % 4) + e % 2.
            float tile_max[2] = {minus_infinity(), minus_infinity()};
#pragma unroll
            for (int ni = 0; ni < kKeyTiles; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int jl = ni * 8 + 2 * (lane & 3) + (e & 1);
                    s[ni][e] = qp.sees(e, j0 + jl, key_tag[jl]) ? s[ni][e] * scale_log2 : minus_infinity();
                    tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[ni][e]);
                }
            float base[2], alpha[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                const float next = fmaxf(m[i], quad_max(tile_max[i]));
                // A row with nothing visible yet keeps max -inf; subtracting 0 keeps exp2 at exactly 0, not NaN.
                base[i] = next == minus_infinity() ? 0.0f : next;
                alpha[i] = fast_exp2(m[i] - base[i]);
                m[i] = next;
            }
#pragma unroll
            for (int ni = 0; ni < kKeyTiles; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    s[ni][e] = fast_exp2(s[ni][e] - base[e >> 1]);
                    sum[e >> 1] += s[ni][e];
                }
#pragma unroll
            for (int i = 0; i < 2; ++i) l[i] = l[i] * alpha[i] + sum[i];
#pragma unroll
            for (int dt = 0; dt < DMAX / 8; ++dt)
#pragma unroll
                for (int e = 0; e < 4; ++e) o[dt][e] *= alpha[e >> 1];
            __syncthreads();  // every warp is done with s_k and key_tag
            if (kt + 1 < tiles) {
                kv.load<DMAX, kFwdKV, kFwdThreads, VEC>(s_k, kv.keys, j0 + kFwdKV, last, dh);
                kv.load_tags(key_tag, j0 + kFwdKV, last, kFwdKV);
            }
            cp_async_commit();
            cp_async_wait<1>();  // the V group (older than the next K group) has landed
            __syncthreads();
            unsigned int p[kFwdKV / 16][4];
#pragma unroll
            for (int kk = 0; kk < kFwdKV / 16; ++kk) accumulators_to_a(p[kk], s[2 * kk], s[2 * kk + 1]);
            product_trans<kChunks>(o, p, s_v, active_steps);
        }

        // Every lane takes part in the quad sums before any lane skips an inactive row.
        const float totals[2] = {quad_sum(l[0]), quad_sum(l[1])};
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            if (!qp.active[i]) continue;
            const float total = totals[i];
            const int t = t0 + qp.index[i];
            const float inv = total > 0.0f ? 1.0f / total : 0.0f;
            bf16* dst = out + ((long long)t * heads + h) * dh;
#pragma unroll
            for (int dt = 0; dt < DMAX / 8; ++dt) {
                const int d = dt * 8 + 2 * (lane & 3);
                const float v0 = o[dt][2 * i] * inv, v1 = o[dt][2 * i + 1] * inv;
                if constexpr (VEC) {
                    if (d < dh) *reinterpret_cast<unsigned int*>(dst + d) = pack_bf16x2(v0, v1);
                } else {
                    if (d < dh) dst[d] = float_to_bf16(v0);
                    if (d + 1 < dh) dst[d + 1] = float_to_bf16(v1);
                }
            }
            if (lse != nullptr && (lane & 3) == 0)
                lse[(long long)t * heads + h] = total > 0.0f ? (m[i] + log2f(total)) * 0.6931471805599453f : minus_infinity();
        }
        tile.finish(row);
    }
}

}  // namespace attn

// Grid (ceil(T / 64), H), 128 threads, dynamic shared memory 3 * 64 * DMAX * 2 + 260 * 4 bytes.
#define COAR_ATTENTION_FWD_KERNEL(name, DMAX, VEC)                                                                   \
    extern "C" __global__ void __launch_bounds__(attn::kFwdThreads)                                                  \
        name(const bf16* q, const bf16* keys, const bf16* values, const int* key_tags, const int* rows,              \
             const int* positions, const int* tags, bf16* out, float* lse, int tokens, int heads, int kv_heads,      \
             int cache_rows, int capacity, int dh, float scale_log2) {                                               \
        attn::attention_fwd<DMAX, VEC>(q, keys, values, key_tags, rows, positions, tags, out, lse, tokens, heads,    \
                                       kv_heads, cache_rows, capacity, dh, scale_log2);                              \
    }

COAR_ATTENTION_FWD_KERNEL(attention_fwd_128_bf16, 128, true)
COAR_ATTENTION_FWD_KERNEL(attention_fwd_128_unaligned_bf16, 128, false)
COAR_ATTENTION_FWD_KERNEL(attention_fwd_64_bf16, 64, true)
COAR_ATTENTION_FWD_KERNEL(attention_fwd_64_unaligned_bf16, 64, false)
