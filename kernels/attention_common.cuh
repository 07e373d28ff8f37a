// Pieces shared by the attention kernels (attention.cu, attention_decode.cu, attention_backward.cu): the identity
// rule, query bookkeeping for tiles of packed tokens, and loading rows of head vectors into swizzled tiles.
#pragma once
#include "common.cuh"

namespace attn {

// Query t may attend key j iff j <= pos[t] and not (both tags nonzero and different): tagged tokens of different
// concepts never see each other; untagged tokens see and are seen by all.
__device__ __forceinline__ bool tags_visible(int query_tag, int key_tag) {
    return query_tag == 0 || key_tag == 0 || query_tag == key_tag;
}

__device__ __forceinline__ int warp_max_int(int value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) value = max(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}

// The 4 lanes of a quad (lane / 4 equal) hold the columns of the same two accumulator rows.
__device__ __forceinline__ float quad_max(float value) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, 1));
    return fmaxf(value, __shfl_xor_sync(0xffffffffu, value, 2));
}

__device__ __forceinline__ float quad_sum(float value) {
    value += __shfl_xor_sync(0xffffffffu, value, 1);
    return value + __shfl_xor_sync(0xffffffffu, value, 2);
}

// The cache row of token t, or -1 when t is past the end or its (row, position) slot is outside the cache: such a
// query is skipped (its outputs stay unwritten) instead of reading out of bounds. The host validates the token map
// where it can read it (the CPU backend); the device cannot afford to stop and ask.
__device__ __forceinline__ int token_row(const int* __restrict__ rows, const int* __restrict__ positions, int t,
                                         int tokens, int cache_rows, int capacity) {
    if (t >= tokens) return -1;
    const int row = rows[t], pos = positions[t];
    return (row >= 0 && row < cache_rows && pos >= 0 && pos < capacity) ? row : -1;
}

// Copies ROWS rows of DMAX bf16 into a swizzled tile (DMAX / 8 chunks per row): row i from row_source(i), a pointer
// to dh contiguous bf16 or nullptr for a zero row; columns dh..DMAX-1 are zero. VEC (dh % 8 == 0, 16-byte aligned
// rows) moves 16-byte chunks with cp.async (the caller commits and waits); otherwise element loads and 16-byte
// shared stores, complete when the caller's next barrier passes. any_global: a valid global address for the
// zero-filling copies, which read nothing.
template <int DMAX, int ROWS, int THREADS, bool VEC, typename RowSource>
__device__ __forceinline__ void load_rows(unsigned int tile, int dh, const void* any_global, RowSource row_source) {
    constexpr int kChunks = DMAX / 8;
    static_assert((ROWS * kChunks) % THREADS == 0, "tile chunks must divide evenly among the threads");
    if constexpr (VEC) {
#pragma unroll
        for (int i = 0; i < ROWS * kChunks / THREADS; ++i) {
            const int id = threadIdx.x + i * THREADS;
            const int row = id / kChunks, chunk = id % kChunks;
            const bf16* src = row_source(row);
            const bool inside = src != nullptr && chunk * 8 < dh;
            cp_async_16(tile + tile_offset<kChunks>(row, chunk) * 2,
                        inside ? static_cast<const void*>(src + chunk * 8) : any_global, inside);
        }
    } else {
        // Kept rolled: unrolled, the element loads of every chunk would be in flight at once and crowd out the
        // registers of the kernels that hold fragments across this call.
#pragma unroll 1
        for (int i = 0; i < ROWS * kChunks / THREADS; ++i) {
            const int id = threadIdx.x + i * THREADS;
            const int row = id / kChunks, chunk = id % kChunks;
            const bf16* src = row_source(row);
            const int d0 = chunk * 8;
            float v[8];
#pragma unroll
            for (int e = 0; e < 8; ++e) v[e] = (src != nullptr && d0 + e < dh) ? bf16_to_float(src[d0 + e]) : 0.0f;
            st_shared_16(tile + tile_offset<kChunks>(row, chunk) * 2, pack_bf16x2(v[0], v[1]), pack_bf16x2(v[2], v[3]),
                         pack_bf16x2(v[4], v[5]), pack_bf16x2(v[6], v[7]));
        }
    }
}

// Query tiles of the prefill-shaped kernels hold 64 tokens that may belong to several cache rows (packing puts
// a row's tokens side by side, but nothing requires it). The tile is processed in passes, one per distinct row:
// a pass streams that row's keys up to the largest position among its queries. Run by one full warp:
// pass[0] = the row of the first query still pending (q_row >= 0), -1 when none is; pass[1] = that largest position.
__device__ __forceinline__ void next_pass(const int* q_row, const int* q_pos, int* pass) {
    const int lane = threadIdx.x & 31;
    const int r0 = q_row[lane], r1 = q_row[lane + 32];
    const unsigned int pending0 = __ballot_sync(0xffffffffu, r0 >= 0);
    const unsigned int pending1 = __ballot_sync(0xffffffffu, r1 >= 0);
    int row = -1;
    if (pending0 != 0u)
        row = __shfl_sync(0xffffffffu, r0, __ffs(pending0) - 1);
    else if (pending1 != 0u)
        row = __shfl_sync(0xffffffffu, r1, __ffs(pending1) - 1);
    int last = max(r0 == row ? q_pos[lane] : -1, r1 == row ? q_pos[lane + 32] : -1);
    last = warp_max_int(last);
    if (lane == 0) {
        pass[0] = row;
        pass[1] = last;
    }
}

}  // namespace attn
