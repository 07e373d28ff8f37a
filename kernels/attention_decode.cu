// Attention for decode-shaped batches (a few queries per cache row, long contexts): flash-decoding. Same function
// as attention.cu (causal limit, identity tags, GQA, lse); bound by reading the KV cache, so it is built for
// bandwidth rather than tensor cores.
//
// attention_decode_*: grid (ceil(capacity / 256), H, T), 128 threads. CTA (c, h, t) takes keys [256 c, 256 c + 256)
// of query t's row up to pos[t] (a CTA starting past pos[t] exits at once: the host sizes the grid by capacity as it
// cannot see the positions). A key row is read by DMAX / 8 lanes with 16-byte loads (a half warp per 256-byte row at
// DMAX 128), 4 rows per lane group in flight; each lane dots its 8 dims with q (pre-scaled by scale * log2 e) and a
// shuffle butterfly over the lane group finishes the score. Scores go to shared memory; the CTA takes their max and
// sum of 2^(s - max), then streams V the same way accumulating p V per lane group, and reduces the groups through
// shared memory. It writes the partial (max, sum) and the unnormalised output to scratch (fp32).
// attention_decode_combine_bf16: grid (H, T), 128 threads: rescales the partials of the chunks that reach pos[t]
// by 2^(max_c - max), sums, normalises, writes out (bf16) and lse.
// "unaligned" variants load element by element (dh % 8 != 0 or unaligned tensors).
#include "attention_common.cuh"

namespace attn {

constexpr int kDecThreads = 128;
constexpr int kDecWarps = kDecThreads / 32;
constexpr int kDecChunk = 256;
constexpr int kDecUnroll = 4;

// Eight bf16 of a head row from d0 on, as loaded; elements at or past dh read as zero.
template <bool VEC>
struct HeadSlice {
    uint4 raw;
    __device__ __forceinline__ void load(const bf16* row, int d0, int dh, bool inside) {
        if constexpr (VEC) {
            raw = (inside && d0 < dh) ? ld_global_16(row + d0) : make_uint4(0, 0, 0, 0);
        } else {
            unsigned short e[8];
#pragma unroll
            for (int i = 0; i < 8; ++i) e[i] = (inside && d0 + i < dh) ? row[d0 + i].bits : (unsigned short)0;
            raw = make_uint4(e[0] | ((unsigned int)e[1] << 16), e[2] | ((unsigned int)e[3] << 16),
                             e[4] | ((unsigned int)e[5] << 16), e[6] | ((unsigned int)e[7] << 16));
        }
    }
    __device__ __forceinline__ float at(int i) const {
        const unsigned int pair = i < 2 ? raw.x : i < 4 ? raw.y : i < 6 ? raw.z : raw.w;
        return (i & 1) ? bf16x2_high(pair) : bf16x2_low(pair);
    }
};

// The rows j0 + slot, j0 + slot + SLOTS, ... (kDecUnroll of them) of keys or values that this lane group reads,
// 8 dims from d0 each; rows at or past j_end read as zero (and load a valid row instead of reading past the end).
template <int SLOTS, bool VEC>
__device__ __forceinline__ void load_slices(HeadSlice<VEC> (&slices)[kDecUnroll], const bf16* rows, int j0, int slot,
                                            int j_end, int d0, int dh) {
#pragma unroll
    for (int u = 0; u < kDecUnroll; ++u) {
        const int j = j0 + u * SLOTS + slot;
        slices[u].load(rows + (long long)min(j, j_end - 1) * dh, d0, dh, j < j_end);
    }
}

__device__ __forceinline__ float block_max(float value, float* scratch) {
    value = warp_max(value);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = value;
    __syncthreads();
    float result = scratch[0];
#pragma unroll
    for (int w = 1; w < kDecWarps; ++w) result = fmaxf(result, scratch[w]);
    __syncthreads();  // scratch may be reused
    return result;
}

__device__ __forceinline__ float block_sum(float value, float* scratch) {
    value = warp_sum(value);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = value;
    __syncthreads();
    float result = 0.0f;
#pragma unroll
    for (int w = 0; w < kDecWarps; ++w) result += scratch[w];
    __syncthreads();
    return result;
}

template <int DMAX, bool VEC>
__device__ __forceinline__ void attention_decode_partial(
    const bf16* __restrict__ q, const bf16* __restrict__ keys, const bf16* __restrict__ values,
    const int* __restrict__ key_tags, const int* __restrict__ rows, const int* __restrict__ positions,
    const int* __restrict__ tags, float* __restrict__ part_o, float* __restrict__ part_ml, int tokens, int heads,
    int kv_heads, int cache_rows, int capacity, int dh, float scale_log2, int chunks) {
    constexpr int kLanesPerKey = DMAX / 8;
    constexpr int kKeysPerWarp = 32 / kLanesPerKey;
    constexpr int kSlots = kKeysPerWarp * kDecWarps;  // keys read side by side by the CTA
    constexpr int kStep = kSlots * kDecUnroll;
    __shared__ float score[kDecChunk];
    __shared__ float slot_sums[kSlots][DMAX];
    __shared__ float scratch[kDecWarps];

    const int c = blockIdx.x, h = blockIdx.y, t = blockIdx.z;
    const int row = token_row(rows, positions, t, tokens, cache_rows, capacity);
    if (row < 0) return;
    const int pos = positions[t];
    const int j_begin = c * kDecChunk;
    if (j_begin > pos) return;
    const int j_end = min(pos + 1, j_begin + kDecChunk);
    const int tag = tags[t];
    const int kvh = h / (heads / kv_heads);
    const int lane = threadIdx.x % 32;
    const int slot = (threadIdx.x / 32) * kKeysPerWarp + lane / kLanesPerKey;
    const int d0 = (lane % kLanesPerKey) * 8;

    HeadSlice<VEC> q_slice;
    q_slice.load(q + ((long long)t * heads + h) * dh, d0, dh, true);
    float qv[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) qv[e] = q_slice.at(e) * scale_log2;

    const long long kv_base = ((long long)row * kv_heads + kvh) * capacity * dh;
    const bf16* k_row = keys + kv_base;
    const bf16* v_row = values + kv_base;
    const int* tags_row = key_tags + (long long)row * capacity;

    for (int j0 = j_begin; j0 < j_end; j0 += kStep) {
        HeadSlice<VEC> k[kDecUnroll];
        load_slices<kSlots>(k, k_row, j0, slot, j_end, d0, dh);
#pragma unroll
        for (int u = 0; u < kDecUnroll; ++u) {
            const int j = j0 + u * kSlots + slot;
            float dot = 0.0f;
#pragma unroll
            for (int e = 0; e < 8; ++e) dot = fmaf(qv[e], k[u].at(e), dot);
#pragma unroll
            for (int offset = kLanesPerKey / 2; offset > 0; offset >>= 1)
                dot += __shfl_xor_sync(0xffffffffu, dot, offset);
            if (j < j_end && lane % kLanesPerKey == 0)
                score[j - j_begin] = tags_visible(tag, tags_row[j]) ? dot : minus_infinity();
        }
    }
    __syncthreads();

    const int n = j_end - j_begin;
    float local_max = minus_infinity();
    for (int i = threadIdx.x; i < n; i += kDecThreads) local_max = fmaxf(local_max, score[i]);
    const float chunk_max = block_max(local_max, scratch);
    const float base = chunk_max == minus_infinity() ? 0.0f : chunk_max;
    float local_sum = 0.0f;
    for (int i = threadIdx.x; i < n; i += kDecThreads) {
        const float p = fast_exp2(score[i] - base);
        score[i] = p;
        local_sum += p;
    }
    const float chunk_sum = block_sum(local_sum, scratch);  // its barrier also publishes the p values

    float acc[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[e] = 0.0f;
    for (int j0 = j_begin; j0 < j_end; j0 += kStep) {
        HeadSlice<VEC> v[kDecUnroll];
        load_slices<kSlots>(v, v_row, j0, slot, j_end, d0, dh);
#pragma unroll
        for (int u = 0; u < kDecUnroll; ++u) {
            const int j = j0 + u * kSlots + slot;
            if (j >= j_end) continue;
            const float p = score[j - j_begin];
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[e] = fmaf(p, v[u].at(e), acc[e]);
        }
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) slot_sums[slot][d0 + e] = acc[e];
    __syncthreads();

    const long long part = ((long long)t * heads + h) * chunks + c;
    for (int d = threadIdx.x; d < dh; d += kDecThreads) {
        float sum = 0.0f;
#pragma unroll
        for (int s = 0; s < kSlots; ++s) sum += slot_sums[s][d];
        part_o[part * dh + d] = sum;
    }
    if (threadIdx.x == 0) {
        part_ml[part * 2] = chunk_max;
        part_ml[part * 2 + 1] = chunk_sum;
    }
}

__device__ __forceinline__ void attention_decode_combine(const float* __restrict__ part_o,
                                                         const float* __restrict__ part_ml,
                                                         const int* __restrict__ rows,
                                                         const int* __restrict__ positions, bf16* __restrict__ out,
                                                         float* __restrict__ lse, int tokens, int heads,
                                                         int cache_rows, int capacity, int dh, int chunks) {
    const int h = blockIdx.x, t = blockIdx.y;
    if (token_row(rows, positions, t, tokens, cache_rows, capacity) < 0) return;
    const int used = min(chunks, positions[t] / kDecChunk + 1);
    const long long part0 = ((long long)t * heads + h) * chunks;
    float m = minus_infinity();
    for (int c = 0; c < used; ++c) m = fmaxf(m, part_ml[(part0 + c) * 2]);
    const float base = m == minus_infinity() ? 0.0f : m;
    float l = 0.0f;
    for (int c = 0; c < used; ++c) l += part_ml[(part0 + c) * 2 + 1] * fast_exp2(part_ml[(part0 + c) * 2] - base);
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    bf16* dst = out + ((long long)t * heads + h) * dh;
    for (int d = threadIdx.x; d < dh; d += blockDim.x) {
        float o = 0.0f;
        for (int c = 0; c < used; ++c) o += part_o[(part0 + c) * dh + d] * fast_exp2(part_ml[(part0 + c) * 2] - base);
        dst[d] = float_to_bf16(o * inv);
    }
    if (lse != nullptr && threadIdx.x == 0)
        lse[(long long)t * heads + h] = l > 0.0f ? (m + log2f(l)) * 0.6931471805599453f : minus_infinity();
}

}  // namespace attn

// Grid (ceil(capacity / 256), H, T), 128 threads, static shared memory only. Scratch: part_o [T, H, chunks, dh] and
// part_ml [T, H, chunks, 2] fp32.
#define COAR_ATTENTION_DECODE_KERNEL(name, DMAX, VEC)                                                                \
    extern "C" __global__ void __launch_bounds__(attn::kDecThreads)                                                  \
        name(const bf16* q, const bf16* keys, const bf16* values, const int* key_tags, const int* rows,              \
             const int* positions, const int* tags, float* part_o, float* part_ml, int tokens, int heads,            \
             int kv_heads, int cache_rows, int capacity, int dh, float scale_log2, int chunks) {                     \
        attn::attention_decode_partial<DMAX, VEC>(q, keys, values, key_tags, rows, positions, tags, part_o, part_ml, \
                                                  tokens, heads, kv_heads, cache_rows, capacity, dh, scale_log2,     \
                                                  chunks);                                                           \
    }

COAR_ATTENTION_DECODE_KERNEL(attention_decode_128_bf16, 128, true)
COAR_ATTENTION_DECODE_KERNEL(attention_decode_128_unaligned_bf16, 128, false)
COAR_ATTENTION_DECODE_KERNEL(attention_decode_64_bf16, 64, true)
COAR_ATTENTION_DECODE_KERNEL(attention_decode_64_unaligned_bf16, 64, false)

// Grid (H, T), 128 threads.
extern "C" __global__ void __launch_bounds__(attn::kDecThreads)
    attention_decode_combine_bf16(const float* part_o, const float* part_ml, const int* rows, const int* positions,
                                  bf16* out, float* lse, int tokens, int heads, int cache_rows, int capacity, int dh,
                                  int chunks) {
    attn::attention_decode_combine(part_o, part_ml, rows, positions, out, lse, tokens, heads, cache_rows, capacity, dh,
                                   chunks);
}
