// Helpers shared by every kernel file. NVRTC compiles kernels/ with no CUDA toolkit headers (no <cuda_bf16.h>, no
// <stdint.h>), so everything here is built from the compiler's own builtins and inline PTX, and compiles the same
// under nvcc (CMakeLists.txt). Kernel entry points are extern "C" __global__ and named op_variant_dtype.
#pragma once

// ---- bfloat16 --------------------------------------------------------------------------------------------------
// Storage type: the top 16 bits of an IEEE float32. A struct rather than a typedef of unsigned short, so a bf16
// buffer is never taken for an integer one. Arithmetic happens in float.
struct __align__(2) bf16 {
    unsigned short bits;
};

__device__ __forceinline__ float bf16_to_float(bf16 value) {
    return __uint_as_float(((unsigned int)value.bits) << 16);
}

// Round to nearest, ties to even; a NaN stays a quiet NaN. Bit for bit the same as BFloat16.FromSingle in C#.
__device__ __forceinline__ bf16 float_to_bf16(float value) {
    unsigned int u = __float_as_uint(value);
    bf16 out;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        out.bits = (unsigned short)((u >> 16) | 0x0040u);
    } else {
        out.bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return out;
}

// Two floats as a bf16x2 register (first in the low half): the operand layout of mma.sync.
__device__ __forceinline__ unsigned int pack_bf16x2(float low, float high) {
    return (unsigned int)float_to_bf16(low).bits | ((unsigned int)float_to_bf16(high).bits << 16);
}

// -inf, for masked scores (there is no <math.h> and so no INFINITY under NVRTC).
__device__ __forceinline__ float minus_infinity() {
    return __int_as_float(0xff800000);
}

// ---- indexing --------------------------------------------------------------------------------------------------
// 64-bit element indices: activations of the 7B model pass 2^31 elements at large batch.
__device__ __forceinline__ long long global_thread_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long grid_thread_count() {
    return (long long)gridDim.x * blockDim.x;
}

// ---- warp reductions -------------------------------------------------------------------------------------------
// Butterfly reductions: every lane of a full warp ends with the result.
__device__ __forceinline__ float warp_sum(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

__device__ __forceinline__ float warp_max(float value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}

// ---- fast math -------------------------------------------------------------------------------------------------
// 2^x on the special function unit (ex2.approx: ~2 ulp, denormal results flush to zero). Softmax uses it with its
// inputs scaled by log2(e); fast math stays off globally so every other expression keeps IEEE semantics.
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

__device__ __forceinline__ float fast_exp(float x) {
    return fast_exp2(x * 1.4426950408889634f);
}

// ---- tensor cores (sm_80+) -------------------------------------------------------------------------------------
// The 32-bit shared-window address that ldmatrix and cp.async take.
__device__ __forceinline__ unsigned int shared_address(const void* pointer) {
    return (unsigned int)__cvta_generic_to_shared(pointer);
}

// ldmatrix: each of the first 8 x N lanes passes the address of one 16-byte row of an 8x8 b16 tile; every lane
// receives its fragment (lane / 4 is the row, 2 * (lane % 4) the first of its two columns).
__device__ __forceinline__ void ldmatrix_x4(unsigned int (&fragment)[4], unsigned int address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(fragment[0]), "=r"(fragment[1]), "=r"(fragment[2]), "=r"(fragment[3])
                 : "r"(address));
}

__device__ __forceinline__ void ldmatrix_x2(unsigned int (&fragment)[2], unsigned int address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(fragment[0]), "=r"(fragment[1])
                 : "r"(address));
}

// Transposed load: for a B operand stored k-major (rows of n), giving the column-major fragment mma.sync wants.
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned int (&fragment)[2], unsigned int address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(fragment[0]), "=r"(fragment[1])
                 : "r"(address));
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned int (&fragment)[4], unsigned int address) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(fragment[0]), "=r"(fragment[1]), "=r"(fragment[2]), "=r"(fragment[3])
                 : "r"(address));
}

// D += A * B for one warp: A 16x16 bf16 (row-major fragment, 4 registers), B 16x8 bf16 (column-major fragment,
// 2 registers), D 16x8 fp32 (4 registers: rows lane/4 and lane/4 + 8, columns 2 * (lane % 4) and the next).
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// ---- asynchronous copies and wide accesses (sm_80+) -------------------------------------------------------------
// cp.async of 16 bytes, global -> shared, bypassing L1. With pred false nothing is read and the 16 bytes are
// zero-filled (src-size 0), so out-of-range tile rows and columns become zeros that add nothing to a dot product.
__device__ __forceinline__ void cp_async_16(unsigned int shared, const void* global, bool pred) {
    const int src_size = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared), "l"(global), "r"(src_size) : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most `pending` of this thread's most recent commit groups are still in flight.
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending) : "memory");
}

__device__ __forceinline__ void st_shared_16(unsigned int shared, unsigned int a, unsigned int b, unsigned int c, unsigned int d) {
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(shared), "r"(a), "r"(b), "r"(c), "r"(d) : "memory");
}

// 16 bytes read once (weights streamed by a GEMV): not kept in L1, so the L1 holds the reused activations.
__device__ __forceinline__ uint4 ld_stream_16(const void* global) {
    uint4 v;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(global));
    return v;
}

// 16 bytes through the read-only path (reused data: activations, KV rows).
__device__ __forceinline__ uint4 ld_global_16(const void* global) {
    uint4 v;
    asm("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "l"(global));
    return v;
}

// The low and high bf16 of a packed pair, as floats.
__device__ __forceinline__ float bf16x2_low(unsigned int pair) {
    return __uint_as_float(pair << 16);
}

__device__ __forceinline__ float bf16x2_high(unsigned int pair) {
    return __uint_as_float(pair & 0xffff0000u);
}

// ---- shared-memory tile layout -----------------------------------------------------------------------------------
// Tiles of 16-byte chunks (8 bf16), `chunks` per row. ldmatrix reads one chunk from each of 8 consecutive rows; the
// XOR below puts those 8 chunks in 8 different 16-byte bank groups (rows narrower than the 128 bytes the 32 banks
// span use higher row bits), and keeps a warp's stores of whole rows conflict-free.
template <int chunks>
__device__ __forceinline__ int swizzle_chunk(int row, int chunk) {
    static_assert(chunks == 1 || chunks == 2 || chunks == 4 || chunks % 8 == 0, "chunks per row: 1, 2, 4 or a multiple of 8");
    if constexpr (chunks >= 8) {
        return chunk ^ (row & 7);
    } else if constexpr (chunks == 4) {
        return chunk ^ ((row >> 1) & 3);
    } else if constexpr (chunks == 2) {
        return chunk ^ ((row >> 2) & 1);
    } else {
        return chunk;
    }
}

// Element offset of chunk `chunk` of row `row` in such a tile.
template <int chunks>
__device__ __forceinline__ int tile_offset(int row, int chunk) {
    return row * chunks * 8 + swizzle_chunk<chunks>(row, chunk) * 8;
}

// ---- mma fragments from swizzled tiles ----------------------------------------------------------------------------
// Tiles of bf16 rows laid out by tile_offset<chunks>. ks counts steps of 16 along the contiguous dimension.

// A fragment of rows [row0, row0 + 16) x columns [16 ks, 16 ks + 16): matrices (rows 0-7, cols 0-7), (rows 8-15,
// cols 0-7), (rows 0-7, cols 8-15), (rows 8-15, cols 8-15), the a0..a3 order of mma.m16n8k16.
template <int chunks>
__device__ __forceinline__ void ldmatrix_a(unsigned int (&a)[4], unsigned int tile, int row0, int ks) {
    const int lane = threadIdx.x & 31;
    ldmatrix_x4(a, tile + tile_offset<chunks>(row0 + (lane & 15), ks * 2 + (lane >> 4)) * 2);
}

// The same A fragment from a tile stored transposed, rows the contraction index and columns the m index (dy^T in
// dW = dy^T x): contraction rows [k0, k0 + 16), m columns [row0, row0 + 16); ldmatrix.trans hands each lane the
// (m, contraction pair) elements of a0..a3.
template <int chunks>
__device__ __forceinline__ void ldmatrix_a_trans(unsigned int (&a)[4], unsigned int tile, int row0, int k0) {
    const int lane = threadIdx.x & 31;
    ldmatrix_x4_trans(a, tile + tile_offset<chunks>(k0 + (lane & 7) + (lane >> 4) * 8, row0 / 8 + ((lane >> 3) & 1)) * 2);
}

// B fragments of two n8 tiles when tile rows are the n index and the contraction is contiguous (W in y = x W^T, K
// in Q K^T): rows [n0, n0 + 8) go to b[0..1], rows [n0 + 8, n0 + 16) to b[2..3], contraction [16 ks, 16 ks + 16).
template <int chunks>
__device__ __forceinline__ void ldmatrix_b_pair(unsigned int (&b)[4], unsigned int tile, int n0, int ks) {
    const int lane = threadIdx.x & 31;
    ldmatrix_x4(b, tile + tile_offset<chunks>(n0 + (lane & 7) + (lane >> 4) * 8, ks * 2 + ((lane >> 3) & 1)) * 2);
}

// B fragments of two n8 tiles when tile rows are the contraction index (V in P V, W in dy W): contraction rows
// [k0, k0 + 16), columns [16 np, 16 np + 8) to b[0..1] and [16 np + 8, 16 np + 16) to b[2..3], transposed by
// ldmatrix.trans into the column-major fragments mma expects.
template <int chunks>
__device__ __forceinline__ void ldmatrix_b_pair_trans(unsigned int (&b)[4], unsigned int tile, int k0, int np) {
    const int lane = threadIdx.x & 31;
    ldmatrix_x4_trans(b, tile + tile_offset<chunks>(k0 + (lane & 7) + ((lane >> 3) & 1) * 8, np * 2 + (lane >> 4)) * 2);
}

// Two fp32 accumulator tiles (n8 tiles 2j and 2j + 1 of a 16-row block) rounded into the A fragment of the k16 step
// j: the accumulator layout (rows lane/4 and +8, columns 2 (lane % 4) and +1) is exactly A's, so a product like
// P = softmax(Q K^T) feeds P V without a trip through shared memory.
__device__ __forceinline__ void accumulators_to_a(unsigned int (&a)[4], const float (&low)[4], const float (&high)[4]) {
    a[0] = pack_bf16x2(low[0], low[1]);
    a[1] = pack_bf16x2(low[2], low[3]);
    a[2] = pack_bf16x2(high[0], high[1]);
    a[3] = pack_bf16x2(high[2], high[3]);
}

// Zeroes N mma accumulator tiles.
template <int N>
__device__ __forceinline__ void zero_accumulators(float (&acc)[N][4]) {
#pragma unroll
    for (int n = 0; n < N; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[n][e] = 0.0f;
}

__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const unsigned int (&a)[4], unsigned int b0, unsigned int b1) {
    const unsigned int b[2] = {b0, b1};
    mma_m16n8k16_bf16(d, a, b);
}
