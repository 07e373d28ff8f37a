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

// The 64 query tokens of a CTA of attention.cu or the dq kernel, in shared memory, and their passes: a pass takes
// the cache row of the first query not yet done and every query of the tile in that row (next_pass).
struct QueryTile {
    static constexpr int kSize = 64;
    // Shared ints: row[64] (-1: done, past the last token, or outside the cache), pos[64], tag[64], then the
    // current pass's row and largest position.
    int* data;

    __device__ __forceinline__ int* row() const { return data; }
    __device__ __forceinline__ int* pos() const { return data + kSize; }
    __device__ __forceinline__ int* tag() const { return data + 2 * kSize; }
    __device__ __forceinline__ int* pass() const { return data + 3 * kSize; }

    // Threads 0..63 record tokens t0..t0+63.
    __device__ __forceinline__ void load(const int* __restrict__ rows, const int* __restrict__ positions,
                                         const int* __restrict__ tags, int t0, int tokens, int cache_rows,
                                         int capacity) const {
        if (threadIdx.x < kSize) {
            const int t = t0 + threadIdx.x;
            const int r = token_row(rows, positions, t, tokens, cache_rows, capacity);
            row()[threadIdx.x] = r;
            pos()[threadIdx.x] = r >= 0 ? positions[t] : -1;
            tag()[threadIdx.x] = r >= 0 ? tags[t] : 0;
        }
    }

    // Starts the next pass (every thread calls it); false when every query is done.
    __device__ __forceinline__ bool next(int& pass_row, int& last) const {
        __syncthreads();  // the previous pass's marks are visible
        if (threadIdx.x < 32) next_pass(row(), pos(), pass());
        __syncthreads();
        pass_row = pass()[0];
        last = pass()[1];
        return pass_row >= 0;
    }

    // Ends a pass: its queries are done.
    __device__ __forceinline__ void finish(int pass_row) const {
        __syncthreads();  // every thread has read row() for this pass
        if (threadIdx.x < kSize && row()[threadIdx.x] == pass_row) row()[threadIdx.x] = -1;
    }
};

// A thread's two query rows of a tile in one pass: the rows lane/4 and lane/4 + 8 of its warp's 16, which hold
// accumulator elements 0-1 and 2-3 of every m16n8 tile.
struct QueryPair {
    int index[2];
    bool active[2];
    int pos[2];
    int tag[2];

    __device__ __forceinline__ QueryPair(const QueryTile& tile, int warp, int lane, int pass_row) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            index[i] = warp * 16 + lane / 4 + 8 * i;
            active[i] = tile.row()[index[i]] == pass_row;
            pos[i] = tile.pos()[index[i]];
            tag[i] = tile.tag()[index[i]];
        }
    }

    // Whether the query of accumulator element e (a constant) may attend key j, whose tag is key_tag.
    __device__ __forceinline__ bool sees(int e, int j, int key_tag) const {
        const int i = e >> 1;
        return active[i] && j <= pos[i] && tags_visible(tag[i], key_tag);
    }
};

// One cache row's keys, values and key tags under one KV head, and their tiles: rows past `last` (the largest
// position any query of the tile reaches) are zero-filled and never read, as a slot nothing wrote may hold NaN.
struct RowKv {
    const bf16* keys;
    const bf16* values;
    const int* tags;

    __device__ __forceinline__ RowKv(const bf16* all_keys, const bf16* all_values, const int* key_tags, int row, int kvh,
                                     int kv_heads, int capacity, int dh) {
        const long long base = ((long long)row * kv_heads + kvh) * capacity * dh;
        keys = all_keys + base;
        values = all_values + base;
        tags = key_tags + (long long)row * capacity;
    }

    // Rows j0..j0+ROWS-1 of `source` (keys or values) into a tile (the caller commits the cp.async group).
    template <int DMAX, int ROWS, int THREADS, bool VEC>
    __device__ __forceinline__ void load(unsigned int tile, const bf16* source, int j0, int last, int dh) const {
        load_rows<DMAX, ROWS, THREADS, VEC>(tile, dh, source, [&](int i) -> const bf16* {
            return j0 + i <= last ? source + (long long)(j0 + i) * dh : nullptr;
        });
    }

    // Threads 0..count-1 copy the tags of keys j0..j0+count-1 (0 past last).
    __device__ __forceinline__ void load_tags(int* dst, int j0, int last, int count) const {
        if (threadIdx.x < count) dst[threadIdx.x] = j0 + (int)threadIdx.x <= last ? tags[j0 + threadIdx.x] : 0;
    }
};

// x = A_x B_x^T and y = A_y B_y^T for one warp: the A tiles give 16 rows from row0 (ldmatrix_a), the B tiles NT
// rows each from 0 (ldmatrix_b_pair), over the first `steps` k16 steps (the rest of the head dim is padding).
// The backward's S = Q K^T with dP = dO V^T, and S^T = K Q^T with dP^T = V dO^T.
template <int CHUNKS, int NT>
__device__ __forceinline__ void two_products(float (&x)[NT][4], float (&y)[NT][4], unsigned int a_x, unsigned int a_y,
                                             unsigned int b_x, unsigned int b_y, int row0, int steps) {
    zero_accumulators(x);
    zero_accumulators(y);
#pragma unroll
    for (int ks = 0; ks < CHUNKS / 2; ++ks) {
        if (ks >= steps) break;
        unsigned int ax[4], ay[4];
        ldmatrix_a<CHUNKS>(ax, a_x, row0, ks);
        ldmatrix_a<CHUNKS>(ay, a_y, row0, ks);
#pragma unroll
        for (int p = 0; p < NT / 2; ++p) {
            unsigned int bx[4], by[4];
            ldmatrix_b_pair<CHUNKS>(bx, b_x, p * 16, ks);
            ldmatrix_b_pair<CHUNKS>(by, b_y, p * 16, ks);
            mma_m16n8k16_bf16(x[2 * p], ax, bx[0], bx[1]);
            mma_m16n8k16_bf16(x[2 * p + 1], ax, bx[2], bx[3]);
            mma_m16n8k16_bf16(y[2 * p], ay, by[0], by[1]);
            mma_m16n8k16_bf16(y[2 * p + 1], ay, by[2], by[3]);
        }
    }
}

// acc[n] += A B for one warp, A given as k16 fragments a[KT] (from accumulators: P, dS) and B rows of a tile
// (ldmatrix_b_pair_trans: tile rows are the contraction index), over the first `steps` n16 column pairs.
template <int CHUNKS, int KT>
__device__ __forceinline__ void product_trans(float (&acc)[CHUNKS][4], const unsigned int (&a)[KT][4], unsigned int b,
                                              int steps) {
#pragma unroll
    for (int kk = 0; kk < KT; ++kk)
#pragma unroll
        for (int np = 0; np < CHUNKS / 2; ++np) {
            if (np >= steps) break;
            unsigned int f[4];
            ldmatrix_b_pair_trans<CHUNKS>(f, b, kk * 16, np);
            mma_m16n8k16_bf16(acc[2 * np], a[kk], f[0], f[1]);
            mma_m16n8k16_bf16(acc[2 * np + 1], a[kk], f[2], f[3]);
        }
}

}  // namespace attn
