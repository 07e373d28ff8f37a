// Element-wise kernels over flat buffers of n elements: residual add, bf16 <-> f32 conversion, fill.
// Grid-stride loops, so any grid size covers any n; bf16 math happens in float and rounds once, to nearest even.
#include "common.cuh"

extern "C" __global__ void residual_add_f32(float* out, const float* a, const float* b, long long n) {
    for (long long i = global_thread_index(); i < n; i += grid_thread_count())
        out[i] = a[i] + b[i];
}

extern "C" __global__ void residual_add_bf16(bf16* out, const bf16* a, const bf16* b, long long n) {
    for (long long i = global_thread_index(); i < n; i += grid_thread_count())
        out[i] = float_to_bf16(bf16_to_float(a[i]) + bf16_to_float(b[i]));
}

extern "C" __global__ void convert_bf16_to_f32(float* out, const bf16* in, long long n) {
    for (long long i = global_thread_index(); i < n; i += grid_thread_count())
        out[i] = bf16_to_float(in[i]);
}

extern "C" __global__ void convert_f32_to_bf16(bf16* out, const float* in, long long n) {
    for (long long i = global_thread_index(); i < n; i += grid_thread_count())
        out[i] = float_to_bf16(in[i]);
}

extern "C" __global__ void fill_f32(float* out, float value, long long n) {
    for (long long i = global_thread_index(); i < n; i += grid_thread_count())
        out[i] = value;
}

extern "C" __global__ void fill_bf16(bf16* out, bf16 value, long long n) {
    for (long long i = global_thread_index(); i < n; i += grid_thread_count())
        out[i] = value;
}
