// Helpers for the CUDA backend's row kernels: float operands stored as fp32 or bf16 (math always in fp32), 8-element
// vector loads and stores (16 bytes of bf16, 2 x 16 bytes of fp32), operands whose storage type is a run-time flag
// (weights may be BF16 or F32), and block-wide reductions. Header-free like common.cuh.
#pragma once
#include "common.cuh"

// ---- storage types ---------------------------------------------------------------------------------------------
__device__ __forceinline__ float to_float(float value) {
    return value;
}

__device__ __forceinline__ float to_float(bf16 value) {
    return bf16_to_float(value);
}

template <typename T> __device__ __forceinline__ T from_float(float value);

template <> __device__ __forceinline__ float from_float<float>(float value) {
    return value;
}

template <> __device__ __forceinline__ bf16 from_float<bf16>(float value) {
    return float_to_bf16(value);
}

// ---- 8-element vectors -----------------------------------------------------------------------------------------
// The pointer must be 16-byte aligned (the host checks before choosing a vector path).
__device__ __forceinline__ void load8(const float* p, float (&v)[8]) {
    const float4 a = *reinterpret_cast<const float4*>(p);
    const float4 b = *reinterpret_cast<const float4*>(p + 4);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}

__device__ __forceinline__ void load8(const bf16* p, float (&v)[8]) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const unsigned int words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        v[2 * i] = __uint_as_float(words[i] << 16);
        v[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
}

__device__ __forceinline__ void store8(float* p, const float (&v)[8]) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4*>(p + 4) = make_float4(v[4], v[5], v[6], v[7]);
}

__device__ __forceinline__ void store8(bf16* p, const float (&v)[8]) {
    uint4 raw;
    raw.x = pack_bf16x2(v[0], v[1]);
    raw.y = pack_bf16x2(v[2], v[3]);
    raw.z = pack_bf16x2(v[4], v[5]);
    raw.w = pack_bf16x2(v[6], v[7]);
    *reinterpret_cast<uint4*>(p) = raw;
}

// ---- operands typed at run time --------------------------------------------------------------------------------
// Weights (norm scales, biases, codebooks) come as BF16 or F32; a flag (nonzero = bf16) picks the storage type, so
// one kernel serves both without a template instantiation per combination. The branch is uniform across the grid.
__device__ __forceinline__ float load_any(const void* p, int is_bf16, long long i) {
    return is_bf16 ? bf16_to_float(static_cast<const bf16*>(p)[i]) : static_cast<const float*>(p)[i];
}

__device__ __forceinline__ void load8_any(const void* p, int is_bf16, long long i, float (&v)[8]) {
    if (is_bf16)
        load8(static_cast<const bf16*>(p) + i, v);
    else
        load8(static_cast<const float*>(p) + i, v);
}

// ---- special values --------------------------------------------------------------------------------------------
__device__ __forceinline__ float negative_infinity() {
    return -__int_as_float(0x7f800000);
}

__device__ __forceinline__ float quiet_nan() {
    return __int_as_float(0x7fffffff);
}

// ---- block reductions ------------------------------------------------------------------------------------------
// Every thread of the block must call these (they contain __syncthreads) and every thread gets the result.
// blockDim.x must be a multiple of 32 (at most 1024); scratch is a __shared__ array of at least 32 elements. The order
// of the additions depends only on blockDim, so results are deterministic.
// common.cuh's warp_sum, for fp64 sums.
__device__ __forceinline__ double warp_sum(double value) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1)
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

template <typename T> __device__ __forceinline__ T block_sum(T value, T* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    value = warp_sum(value);
    __syncthreads(); // the previous reduction's readers are done with scratch
    if (lane == 0)
        scratch[warp] = value;
    __syncthreads();
    return warp_sum(lane < warps ? scratch[lane] : T(0));
}

// Maximum over the block, NaN-ignoring (fmaxf): the largest non-NaN value, or -inf when there is none.
__device__ __forceinline__ float block_max(float value, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    value = warp_max(value);
    __syncthreads();
    if (lane == 0)
        scratch[warp] = value;
    __syncthreads();
    return warp_max(lane < warps ? scratch[lane] : negative_infinity());
}

// Sum and maximum over groups of 16 lanes (half warps), for rows handled by 16 lanes each. The whole warp calls them.
template <typename T> __device__ __forceinline__ T half_warp_sum(T value) {
#pragma unroll
    for (int offset = 8; offset > 0; offset >>= 1)
        value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

__device__ __forceinline__ float half_warp_max(float value) {
#pragma unroll
    for (int offset = 8; offset > 0; offset >>= 1)
        value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}
