// Row moves by index: embedding gather, row gather/scatter (context-token injection and its gradient), scatter-add,
// zeroing rows, and the KV cache's store and its backward gather. Float rows are bf16 or fp32 on either side (the
// kernel name says source then destination) and convert through fp32; rows of any other dtype move as bytes.
//
// Indices live on the device, so the host cannot check them without a round trip: they are the caller's contract.
// The kernels never touch memory outside their tensors: a gather from a row outside the source fills the output row
// with NaN (bytes 0xff: NaN for float types, -1 for integers), a scatter to a row outside the destination is dropped.
#include "float_rows.cuh"

// ---- row helpers (one block per row) ---------------------------------------------------------------------------
// dst = src (+ dst when accumulate) over n elements; vec = 1 when n % 8 == 0 and both rows are 16-byte aligned.
template <typename TS, typename TD>
__device__ __forceinline__ void transfer_row(TD* dst, const TS* src, int n, int vec, int accumulate) {
    if (vec) {
        for (int c = threadIdx.x * 8; c < n; c += blockDim.x * 8) {
            float v[8];
            load8(src + c, v);
            if (accumulate) {
                float a[8];
                load8(dst + c, a);
#pragma unroll
                for (int k = 0; k < 8; k++)
                    v[k] = a[k] + v[k];
            }
            store8(dst + c, v);
        }
    } else {
        for (int c = threadIdx.x; c < n; c += blockDim.x) {
            const float v = to_float(src[c]);
            dst[c] = from_float<TD>(accumulate ? to_float(dst[c]) + v : v);
        }
    }
}

template <typename T>
__device__ __forceinline__ void fill_row_nan(T* dst, int n) {
    for (int c = threadIdx.x; c < n; c += blockDim.x)
        dst[c] = from_float<T>(quiet_nan());
}

// granule: 16 when both addresses and the length are multiples of 16 bytes, 4 for multiples of 4, else 1.
__device__ __forceinline__ void copy_bytes(unsigned char* dst, const unsigned char* src, long long bytes, int granule) {
    if (granule == 16) {
        for (long long i = threadIdx.x; i < bytes / 16; i += blockDim.x)
            reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(src)[i];
    } else if (granule == 4) {
        for (long long i = threadIdx.x; i < bytes / 4; i += blockDim.x)
            reinterpret_cast<unsigned int*>(dst)[i] = reinterpret_cast<const unsigned int*>(src)[i];
    } else {
        for (long long i = threadIdx.x; i < bytes; i += blockDim.x)
            dst[i] = src[i];
    }
}

__device__ __forceinline__ void fill_bytes(unsigned char* dst, long long bytes, int granule, unsigned int pattern) {
    if (granule == 16) {
        const uint4 value = make_uint4(pattern, pattern, pattern, pattern);
        for (long long i = threadIdx.x; i < bytes / 16; i += blockDim.x)
            reinterpret_cast<uint4*>(dst)[i] = value;
    } else if (granule == 4) {
        for (long long i = threadIdx.x; i < bytes / 4; i += blockDim.x)
            reinterpret_cast<unsigned int*>(dst)[i] = pattern;
    } else {
        for (long long i = threadIdx.x; i < bytes; i += blockDim.x)
            dst[i] = (unsigned char)pattern;
    }
}

// ---- embedding -------------------------------------------------------------------------------------------------
// out[t, :] = table[ids[t], :]; one block per token.
template <typename TS, typename TD>
__device__ __forceinline__ void embedding_gather(TD* out, const TS* table, const int* ids, int vocab, int d, int vec) {
    const long long t = blockIdx.x;
    const int id = ids[t];
    if (id < 0 || id >= vocab)
        fill_row_nan(out + t * d, d);
    else
        transfer_row(out + t * d, table + (long long)id * d, d, vec, 0);
}

#define COAR_EMBEDDING(src_name, TS, dst_name, TD)                                                                      \
    extern "C" __global__ void embedding_##src_name##_##dst_name(TD* out, const TS* table, const int* ids, int vocab, \
                                                                 int d, int vec) {                                    \
        embedding_gather(out, table, ids, vocab, d, vec);                                                             \
    }
COAR_EMBEDDING(bf16, bf16, bf16, bf16)
COAR_EMBEDDING(bf16, bf16, f32, float)
COAR_EMBEDDING(f32, float, bf16, bf16)
COAR_EMBEDDING(f32, float, f32, float)

// ---- gather / scatter ------------------------------------------------------------------------------------------
// out[i, :] = x[indices[i], :]; one block per output row.
extern "C" __global__ void gather_rows_bytes(unsigned char* out, const unsigned char* x, const int* indices, int rows,
                                             long long row_bytes, int granule) {
    const long long i = blockIdx.x;
    const int source = indices[i];
    if (source < 0 || source >= rows)
        fill_bytes(out + i * row_bytes, row_bytes, granule, 0xffffffffu);
    else
        copy_bytes(out + i * row_bytes, x + source * row_bytes, row_bytes, granule);
}

template <typename TS, typename TD>
__device__ __forceinline__ void gather_rows_convert(TD* out, const TS* x, const int* indices, int rows, int d, int vec) {
    const long long i = blockIdx.x;
    const int source = indices[i];
    if (source < 0 || source >= rows)
        fill_row_nan(out + i * d, d);
    else
        transfer_row(out + i * d, x + (long long)source * d, d, vec, 0);
}

// destination[indices[i], :] = source[i, :]; one block per source row. Indices are distinct by contract.
extern "C" __global__ void scatter_rows_bytes(unsigned char* destination, const unsigned char* source, const int* indices,
                                              int rows, long long row_bytes, int granule) {
    const long long i = blockIdx.x;
    const int target = indices[i];
    if (target >= 0 && target < rows)
        copy_bytes(destination + target * row_bytes, source + i * row_bytes, row_bytes, granule);
}

template <typename TS, typename TD>
__device__ __forceinline__ void scatter_rows_convert(TD* destination, const TS* source, const int* indices, int rows, int d, int vec) {
    const long long i = blockIdx.x;
    const int target = indices[i];
    if (target >= 0 && target < rows)
        transfer_row(destination + (long long)target * d, source + i * d, d, vec, 0);
}

#define COAR_ROW_CONVERSIONS(src_name, TS, dst_name, TD)                                                                  \
    extern "C" __global__ void gather_rows_##src_name##_##dst_name(TD* out, const TS* x, const int* indices, int rows,  \
                                                                   int d, int vec) {                                   \
        gather_rows_convert(out, x, indices, rows, d, vec);                                                             \
    }                                                                                                                   \
    extern "C" __global__ void scatter_rows_##src_name##_##dst_name(TD* destination, const TS* source,                  \
                                                                    const int* indices, int rows, int d, int vec) {     \
        scatter_rows_convert(destination, source, indices, rows, d, vec);                                               \
    }
COAR_ROW_CONVERSIONS(bf16, bf16, f32, float)
COAR_ROW_CONVERSIONS(f32, float, bf16, bf16)

// ---- scatter-add -----------------------------------------------------------------------------------------------
// destination[indices[i], :] += source[i, :]. One block per DESTINATION row: it scans all indices in order and adds
// every source row aimed at it, so repeated indices add up in index order (as on the CPU: for an fp32 destination
// the result is the CPU's bit for bit) with no atomics, and the result does not depend on scheduling. A bf16
// destination is rounded once, after all of its additions.
#define SCATTER_INDEX_CHUNK 1024

template <typename TS, typename TD>
__device__ __forceinline__ void scatter_add_rows(TD* destination, const TS* source, const int* indices, int n, int d, int vec) {
    __shared__ int chunk[SCATTER_INDEX_CHUNK];
    const int row = blockIdx.x;
    TD* dr = destination + (long long)row * d;
    const int step = vec ? 8 : 1;
    // Column passes are uniform across the block: the index chunks below are loaded between barriers.
    for (int base = 0; base < d; base += blockDim.x * step) {
        const int c = base + threadIdx.x * step;
        const bool active = c < d;
        float acc[8];
        if (active) {
            if (vec)
                load8(dr + c, acc);
            else
                acc[0] = to_float(dr[c]);
        }
        bool touched = false;
        for (int i0 = 0; i0 < n; i0 += SCATTER_INDEX_CHUNK) {
            const int count = min(SCATTER_INDEX_CHUNK, n - i0);
            __syncthreads();
            for (int i = threadIdx.x; i < count; i += blockDim.x)
                chunk[i] = indices[i0 + i];
            __syncthreads();
            if (!active)
                continue;
            for (int i = 0; i < count; i++) {
                if (chunk[i] != row)
                    continue;
                touched = true;
                const TS* sr = source + (long long)(i0 + i) * d + c;
                if (vec) {
                    float v[8];
                    load8(sr, v);
#pragma unroll
                    for (int k = 0; k < 8; k++)
                        acc[k] = acc[k] + v[k];
                } else {
                    acc[0] = acc[0] + to_float(sr[0]);
                }
            }
        }
        if (active && touched) {
            if (vec)
                store8(dr + c, acc);
            else
                dr[c] = from_float<TD>(acc[0]);
        }
    }
}

#define COAR_SCATTER_ADD(src_name, TS, dst_name, TD)                                                                      \
    extern "C" __global__ void scatter_add_rows_##src_name##_##dst_name(TD* destination, const TS* source,              \
                                                                        const int* indices, int n, int d, int vec) {    \
        scatter_add_rows(destination, source, indices, n, d, vec);                                                      \
    }
COAR_SCATTER_ADD(bf16, bf16, bf16, bf16)
COAR_SCATTER_ADD(bf16, bf16, f32, float)
COAR_SCATTER_ADD(f32, float, bf16, bf16)
COAR_SCATTER_ADD(f32, float, f32, float)

// destination[indices[i], :] = 0; one block per index.
extern "C" __global__ void zero_rows_bytes(unsigned char* destination, const int* indices, int rows, long long row_bytes, int granule) {
    const int target = indices[blockIdx.x];
    if (target >= 0 && target < rows)
        fill_bytes(destination + target * row_bytes, row_bytes, granule, 0u);
}

// ---- KV cache --------------------------------------------------------------------------------------------------
// cache[row, h, pos, :] = keys/values[t, h, :] and key_tags[row, pos] = tags[t]; grid (T, kv_heads).
template <typename T>
__device__ __forceinline__ void kv_store(T* cache_keys, T* cache_values, int* key_tags, const T* keys, const T* values,
                                         const int* rows, const int* positions, const int* tags, int cache_rows, int kv_heads,
                                         int capacity, int dh, int vec) {
    const long long t = blockIdx.x;
    const int h = blockIdx.y;
    const int row = rows[t], position = positions[t];
    if (row < 0 || row >= cache_rows || position < 0 || position >= capacity)
        return;
    const long long source = (t * kv_heads + h) * dh;
    const long long slot = (((long long)row * kv_heads + h) * capacity + position) * dh;
    transfer_row(cache_keys + slot, keys + source, dh, vec, 0);
    transfer_row(cache_values + slot, values + source, dh, vec, 0);
    if (h == 0 && threadIdx.x == 0)
        key_tags[(long long)row * capacity + position] = tags[t];
}

extern "C" __global__ void kv_store_bf16(bf16* cache_keys, bf16* cache_values, int* key_tags, const bf16* keys, const bf16* values,
                                         const int* rows, const int* positions, const int* tags, int cache_rows, int kv_heads,
                                         int capacity, int dh, int vec) {
    kv_store(cache_keys, cache_values, key_tags, keys, values, rows, positions, tags, cache_rows, kv_heads, capacity, dh, vec);
}

extern "C" __global__ void kv_store_f32(float* cache_keys, float* cache_values, int* key_tags, const float* keys, const float* values,
                                        const int* rows, const int* positions, const int* tags, int cache_rows, int kv_heads,
                                        int capacity, int dh, int vec) {
    kv_store(cache_keys, cache_values, key_tags, keys, values, rows, positions, tags, cache_rows, kv_heads, capacity, dh, vec);
}

// The backward of kv_store: dk[t, h, :] (+)= d_keys[row, h, pos, :] (and dv likewise); grid (T, kv_heads).
template <typename TS, typename TD>
__device__ __forceinline__ void kv_gather(TD* dk, TD* dv, const TS* d_keys, const TS* d_values, const int* rows, const int* positions,
                                          int cache_rows, int kv_heads, int capacity, int dh, int vec, int accumulate) {
    const long long t = blockIdx.x;
    const int h = blockIdx.y;
    const int row = rows[t], position = positions[t];
    const long long target = (t * kv_heads + h) * dh;
    if (row < 0 || row >= cache_rows || position < 0 || position >= capacity) {
        fill_row_nan(dk + target, dh);
        fill_row_nan(dv + target, dh);
        return;
    }
    const long long slot = (((long long)row * kv_heads + h) * capacity + position) * dh;
    transfer_row(dk + target, d_keys + slot, dh, vec, accumulate);
    transfer_row(dv + target, d_values + slot, dh, vec, accumulate);
}

#define COAR_KV_GATHER(src_name, TS, dst_name, TD)                                                                        \
    extern "C" __global__ void kv_gather_##src_name##_##dst_name(TD* dk, TD* dv, const TS* d_keys, const TS* d_values,  \
                                                                 const int* rows, const int* positions, int cache_rows, \
                                                                 int kv_heads, int capacity, int dh, int vec,           \
                                                                 int accumulate) {                                      \
        kv_gather(dk, dv, d_keys, d_values, rows, positions, cache_rows, kv_heads, capacity, dh, vec, accumulate);      \
    }
COAR_KV_GATHER(bf16, bf16, bf16, bf16)
COAR_KV_GATHER(bf16, bf16, f32, float)
COAR_KV_GATHER(f32, float, bf16, bf16)
COAR_KV_GATHER(f32, float, f32, float)
