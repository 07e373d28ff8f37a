// Element-wise ops over flat buffers of n elements, bf16 or fp32, math in fp32: SwiGLU and its input gradients, and
// addition. Grid-stride loops; vec = 1 when every pointer is 16-byte aligned (the host checks), in which case the first
// n / 8 * 8 elements go as 8-element vectors and the rest one by one. An output may be one of the inputs
// (out = gate for SwiGLU, y = a or b for Add): every element is read and then written by the same thread.
#include "float_rows.cuh"

// vector(i) for each 8-element vector i, i + 8 of the first n / 8 * 8 elements when vec, then scalar(i) for the rest.
template <typename Vector, typename Scalar>
__device__ __forceinline__ void pointwise_loop(long long n, int vec, Vector vector, Scalar scalar) {
    long long tail = 0;
    if (vec) {
        const long long chunks = n / 8;
        for (long long c = global_thread_index(); c < chunks; c += grid_thread_count())
            vector(8 * c);
        tail = chunks * 8;
    }
    for (long long i = tail + global_thread_index(); i < n; i += grid_thread_count())
        scalar(i);
}

// out[i] = f(a[i], b[i]).
template <typename T, typename F>
__device__ __forceinline__ void binary_map(T* out, const T* a, const T* b, long long n, int vec, F f) {
    pointwise_loop(
        n, vec,
        [&](long long i) {
            float va[8], vb[8];
            load8(a + i, va);
            load8(b + i, vb);
#pragma unroll
            for (int k = 0; k < 8; k++)
                va[k] = f(va[k], vb[k]);
            store8(out + i, va);
        },
        [&](long long i) { out[i] = from_float<T>(f(to_float(a[i]), to_float(b[i]))); });
}

// silu(g) * u, written as the CPU reference writes it: g / (1 + exp(-g)) * u.
__device__ __forceinline__ float swiglu(float g, float u) {
    return g / (1.0f + expf(-g)) * u;
}

__device__ __forceinline__ float add(float a, float b) {
    return a + b;
}

// d gate = d * u * s * (1 + g (1 - s)) and d up = d * g * s with s = sigmoid(g): silu'(g) = s (1 + g (1 - s)).
__device__ __forceinline__ void swiglu_gradient(float g, float u, float d, float& d_gate, float& d_up) {
    const float s = 1.0f / (1.0f + expf(-g));
    d_gate = d * u * s * (1.0f + g * (1.0f - s));
    d_up = d * g * s;
}

// The outputs are apart from the inputs (the host checks).
template <typename T>
__device__ __forceinline__ void swiglu_backward(T* d_gate, T* d_up, const T* gate, const T* up, const T* d_out, long long n, int vec) {
    pointwise_loop(
        n, vec,
        [&](long long i) {
            float g[8], u[8], d[8], dg[8], du[8];
            load8(gate + i, g);
            load8(up + i, u);
            load8(d_out + i, d);
#pragma unroll
            for (int k = 0; k < 8; k++)
                swiglu_gradient(g[k], u[k], d[k], dg[k], du[k]);
            store8(d_gate + i, dg);
            store8(d_up + i, du);
        },
        [&](long long i) {
            float dg, du;
            swiglu_gradient(to_float(gate[i]), to_float(up[i]), to_float(d_out[i]), dg, du);
            d_gate[i] = from_float<T>(dg);
            d_up[i] = from_float<T>(du);
        });
}

extern "C" __global__ void swiglu_fwd_bf16(bf16* out, const bf16* gate, const bf16* up, long long n, int vec) {
    binary_map(out, gate, up, n, vec, swiglu);
}

extern "C" __global__ void swiglu_fwd_f32(float* out, const float* gate, const float* up, long long n, int vec) {
    binary_map(out, gate, up, n, vec, swiglu);
}

extern "C" __global__ void swiglu_bwd_bf16(bf16* d_gate, bf16* d_up, const bf16* gate, const bf16* up, const bf16* d_out, long long n, int vec) {
    swiglu_backward(d_gate, d_up, gate, up, d_out, n, vec);
}

extern "C" __global__ void swiglu_bwd_f32(float* d_gate, float* d_up, const float* gate, const float* up, const float* d_out, long long n, int vec) {
    swiglu_backward(d_gate, d_up, gate, up, d_out, n, vec);
}

extern "C" __global__ void add_bf16(bf16* y, const bf16* a, const bf16* b, long long n, int vec) {
    binary_map(y, a, b, n, vec, add);
}

extern "C" __global__ void add_f32(float* y, const float* a, const float* b, long long n, int vec) {
    binary_map(y, a, b, n, vec, add);
}
