// Test-only kernels (CommonHelperKernels.cs) that exercise common.cuh's helpers no production kernel uses yet. Kept as
// a file, so the CUDA driver stand-in builds them with the kernels of kernels/ (kernels/emulator/standin/build.sh).
#include "common.cuh"

// One warp: D (16x8 fp32, row-major) = A (16x16 bf16, row-major) x B, with B given as Bt (8x16 bf16, row-major,
// i.e. B column-major), through ldmatrix and one m16n8k16 mma.
extern "C" __global__ void mma_tile_bf16(float* d, const bf16* a, const bf16* bt) {
    __shared__ __align__(16) bf16 tile_a[16 * 16];
    __shared__ __align__(16) bf16 tile_bt[8 * 16];
    const int lane = threadIdx.x;
    for (int i = lane; i < 16 * 16; i += 32) tile_a[i] = a[i];
    for (int i = lane; i < 8 * 16; i += 32) tile_bt[i] = bt[i];
    __syncwarp();

    unsigned int fa[4], fb[2];
    ldmatrix_x4(fa, shared_address(&tile_a[(lane % 16) * 16 + (lane / 16) * 8]));
    ldmatrix_x2(fb, shared_address(&tile_bt[(lane % 8) * 16 + ((lane / 8) % 2) * 8]));
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    mma_m16n8k16_bf16(acc, fa, fb);

    const int row = lane / 4, column = 2 * (lane % 4);
    d[row * 8 + column] = acc[0];
    d[row * 8 + column + 1] = acc[1];
    d[(row + 8) * 8 + column] = acc[2];
    d[(row + 8) * 8 + column + 1] = acc[3];
}

// One warp: every lane writes the warp's sum and maximum of the 32 inputs.
extern "C" __global__ void warp_reduce_f32(float* sums, float* maxima, const float* in) {
    const float value = in[threadIdx.x];
    sums[threadIdx.x] = warp_sum(value);
    maxima[threadIdx.x] = warp_max(value);
}

extern "C" __global__ void fast_exp2_f32(float* out, const float* in, long long n) {
    for (long long i = global_thread_index(); i < n; i += grid_thread_count())
        out[i] = fast_exp2(in[i]);
}
