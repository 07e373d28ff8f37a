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
    int* q_row = key_tag + kFwdKV;
    int* q_pos = q_row + kFwdQ;
    int* q_tag = q_pos + kFwdQ;
    int* pass = q_tag + kFwdQ;

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int h = blockIdx.y, kvh = h / (heads / kv_heads);
    // Later tiles of a packed row reach further back: start them first.
    const int t0 = (gridDim.x - 1 - blockIdx.x) * kFwdQ;
    const int active_steps = (dh + 15) / 16;

    if (threadIdx.x < kFwdQ) {
        const int t = t0 + threadIdx.x;
        const int row = token_row(rows, positions, t, tokens, cache_rows, capacity);
        q_row[threadIdx.x] = row;
        q_pos[threadIdx.x] = row >= 0 ? positions[t] : -1;
        q_tag[threadIdx.x] = row >= 0 ? tags[t] : 0;
    }
    load_rows<DMAX, kFwdQ, kFwdThreads, VEC>(s_q, dh, q, [&](int i) -> const bf16* {
        return t0 + i < tokens ? q + ((long long)(t0 + i) * heads + h) * dh : nullptr;
    });
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();

    unsigned int qf[kSteps][4];
#pragma unroll
    for (int ks = 0; ks < kSteps; ++ks) ldmatrix_a<kChunks>(qf[ks], s_q, warp * 16, ks);

    // This thread's two query rows of the tile (accumulator rows lane/4 and lane/4 + 8 of its warp's 16).
    const int qa = warp * 16 + lane / 4, qb = qa + 8;

    for (;;) {
        __syncthreads();  // the previous pass's marks in q_row are visible
        if (warp == 0) next_pass(q_row, q_pos, pass);
        __syncthreads();
        const int row = pass[0], last = pass[1];
        if (row < 0) break;
        const bool act_a = q_row[qa] == row, act_b = q_row[qb] == row;
        const int pos_a = q_pos[qa], pos_b = q_pos[qb], tag_a = q_tag[qa], tag_b = q_tag[qb];
        const long long kv_base = ((long long)row * kv_heads + kvh) * capacity * dh;
        const bf16* k_row = keys + kv_base;
        const bf16* v_row = values + kv_base;
        const int* tags_row = key_tags + (long long)row * capacity;
        const int tiles = last / kFwdKV + 1;

        float o[DMAX / 8][4];
#pragma unroll
        for (int dt = 0; dt < DMAX / 8; ++dt)
#pragma unroll
            for (int e = 0; e < 4; ++e) o[dt][e] = 0.0f;
        float m_a = minus_infinity(), m_b = minus_infinity(), l_a = 0.0f, l_b = 0.0f;

        auto load_keys = [&](int kt) {
            const int j0 = kt * kFwdKV;
            load_rows<DMAX, kFwdKV, kFwdThreads, VEC>(s_k, dh, keys, [&](int i) -> const bf16* {
                return j0 + i <= last ? k_row + (long long)(j0 + i) * dh : nullptr;
            });
            if (threadIdx.x < kFwdKV) key_tag[threadIdx.x] = j0 + threadIdx.x <= last ? tags_row[j0 + threadIdx.x] : 0;
        };
        load_keys(0);
        cp_async_commit();

        for (int kt = 0; kt < tiles; ++kt) {
            const int j0 = kt * kFwdKV;
            __syncthreads();  // P V of the previous tile is done with s_v
            load_rows<DMAX, kFwdKV, kFwdThreads, VEC>(s_v, dh, values, [&](int i) -> const bf16* {
                return j0 + i <= last ? v_row + (long long)(j0 + i) * dh : nullptr;
            });
            cp_async_commit();
            cp_async_wait<1>();  // this thread's K copies (older than the V group) have landed
            __syncthreads();     // everyone's have, and the key tags are written

            float s[kKeyTiles][4];
#pragma unroll
            for (int ni = 0; ni < kKeyTiles; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[ni][e] = 0.0f;
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

            // Accumulator element e of key tile ni: query row qa (e < 2) or qb, key j0 + 8 ni + 2 (lane % 4) + e % 2.
            float max_a = minus_infinity(), max_b = minus_infinity();
#pragma unroll
            for (int ni = 0; ni < kKeyTiles; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int jl = ni * 8 + 2 * (lane & 3) + (e & 1);
                    const bool visible = e < 2 ? act_a && j0 + jl <= pos_a && tags_visible(tag_a, key_tag[jl])
                                               : act_b && j0 + jl <= pos_b && tags_visible(tag_b, key_tag[jl]);
                    s[ni][e] = visible ? s[ni][e] * scale_log2 : minus_infinity();
                    if (e < 2)
                        max_a = fmaxf(max_a, s[ni][e]);
                    else
                        max_b = fmaxf(max_b, s[ni][e]);
                }
            const float new_a = fmaxf(m_a, quad_max(max_a)), new_b = fmaxf(m_b, quad_max(max_b));
            // A row with nothing visible yet keeps max -inf; subtracting 0 instead keeps exp2 at exactly 0, not NaN.
            const float base_a = new_a == minus_infinity() ? 0.0f : new_a, base_b = new_b == minus_infinity() ? 0.0f : new_b;
            const float alpha_a = fast_exp2(m_a - base_a), alpha_b = fast_exp2(m_b - base_b);
            m_a = new_a;
            m_b = new_b;
            float sum_a = 0.0f, sum_b = 0.0f;
#pragma unroll
            for (int ni = 0; ni < kKeyTiles; ++ni)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    s[ni][e] = fast_exp2(s[ni][e] - (e < 2 ? base_a : base_b));
                    if (e < 2)
                        sum_a += s[ni][e];
                    else
                        sum_b += s[ni][e];
                }
            l_a = l_a * alpha_a + sum_a;
            l_b = l_b * alpha_b + sum_b;
#pragma unroll
            for (int dt = 0; dt < DMAX / 8; ++dt) {
                o[dt][0] *= alpha_a;
                o[dt][1] *= alpha_a;
                o[dt][2] *= alpha_b;
                o[dt][3] *= alpha_b;
            }

            __syncthreads();  // every warp is done with s_k and key_tag
            if (kt + 1 < tiles) load_keys(kt + 1);
            cp_async_commit();
            cp_async_wait<1>();  // the V group (older than the next K group) has landed
            __syncthreads();

#pragma unroll
            for (int kk = 0; kk < kFwdKV / 16; ++kk) {
                unsigned int a[4];
                accumulators_to_a(a, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
                for (int np = 0; np < DMAX / 16; ++np) {
                    if (np >= active_steps) break;
                    unsigned int b[4];
                    ldmatrix_b_pair_trans<kChunks>(b, s_v, kk * 16, np);
                    mma_m16n8k16_bf16(o[2 * np], a, b[0], b[1]);
                    mma_m16n8k16_bf16(o[2 * np + 1], a, b[2], b[3]);
                }
            }
        }

        l_a = quad_sum(l_a);
        l_b = quad_sum(l_b);
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const bool active = half == 0 ? act_a : act_b;
            if (!active) continue;
            const float l = half == 0 ? l_a : l_b, m = half == 0 ? m_a : m_b;
            const int t = t0 + (half == 0 ? qa : qb);
            const float inv = l > 0.0f ? 1.0f / l : 0.0f;
            bf16* dst = out + ((long long)t * heads + h) * dh;
#pragma unroll
            for (int dt = 0; dt < DMAX / 8; ++dt) {
                const int d = dt * 8 + 2 * (lane & 3);
                const float v0 = o[dt][2 * half] * inv, v1 = o[dt][2 * half + 1] * inv;
                if constexpr (VEC) {
                    if (d < dh) *reinterpret_cast<unsigned int*>(dst + d) = pack_bf16x2(v0, v1);
                } else {
                    if (d < dh) dst[d] = float_to_bf16(v0);
                    if (d + 1 < dh) dst[d + 1] = float_to_bf16(v1);
                }
            }
            if (lse != nullptr && (lane & 3) == 0)
                lse[(long long)t * heads + h] = l > 0.0f ? (m + log2f(l)) * 0.6931471805599453f : minus_infinity();
        }

        __syncthreads();  // every thread has read q_row for this pass
        if (threadIdx.x < kFwdQ && q_row[threadIdx.x] == row) q_row[threadIdx.x] = -1;
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
