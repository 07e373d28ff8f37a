// Element-wise ops over flat buffers of n elements, bf16 or fp32, math in fp32: SwiGLU and its input gradients, and
// addition. Grid-stride loops; vec = 1 when every pointer is 16-byte aligned (the host checks), in which case the first
// n / 8 * 8 elements go as 8-element vectors and the rest one by one. An output may be one of the inputs
// (out = gate for SwiGLU, y = a or b for Add): every element is read and then written by the same thread.
#include "float_rows.cuh"

__device__ __forceinline__ float sigmoid(float g) {
    return 1.0f / (1.0f + expf(-g));
}

// silu(g) * u, written as the CPU reference writes it: g / (1 + exp(-g)) * u.
__device__ __forceinline__ float swiglu(float g, float u) {
    return g / (1.0f + expf(-g)) * u;
}

template <typename T>
__device__ __forceinline__ void swiglu_forward(T* out, const T* gate, const T* up, long long n, int vec) {
    long long tail = 0;
    if (vec) {
        const long long chunks = n / 8;
        for (long long c = global_thread_index(); c < chunks; c += grid_thread_count()) {
            float g[8], u[8];
            load8(gate + 8 * c, g);
            load8(up + 8 * c, u);
#pragma unroll
            for (int k = 0; k < 8; k++)
                g[k] = swiglu(g[k], u[k]);
            store8(out + 8 * c, g);
        }
        tail = chunks * 8;
    }
    for (long long i = tail + global_thread_index(); i < n; i += grid_thread_count())
        out[i] = from_float<T>(swiglu(to_float(gate[i]), to_float(up[i])));
}

extern "C" __global__ void swiglu_fwd_bf16(bf16* out, const bf16* gate, const bf16* up, long long n, int vec) {
    swiglu_forward(out, gate, up, n, vec);
}

extern "C" __global__ void swiglu_fwd_f32(float* out, const float* gate, const float* up, long long n, int vec) {
    swiglu_forward(out, gate, up, n, vec);
}

// d gate = d * u * s * (1 + g (1 - s)) and d up = d * g * s with s = sigmoid(g): silu'(g) = s (1 + g (1 - s)).
// The outputs are apart from the inputs (the host checks).
template <typename T>
__device__ __forceinline__ void swiglu_backward(T* d_gate, T* d_up, const T* gate, const T* up, const T* d_out, long long n, int vec) {
    long long tail = 0;
    if (vec) {
        const long long chunks = n / 8;
        for (long long c = global_thread_index(); c < chunks; c += grid_thread_count()) {
            float g[8], u[8], d[8], dg[8], du[8];
            load8(gate + 8 * c, g);
            load8(up + 8 * c, u);
            load8(d_out + 8 * c, d);
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const float s = sigmoid(g[k]);
                dg[k] = d[k] * u[k] * s * (1.0f + g[k] * (1.0f - s));
                du[k] = d[k] * g[k] * s;
            }
            store8(d_gate + 8 * c, dg);
            store8(d_up + 8 * c, du);
        }
        tail = chunks * 8;
    }
    for (long long i = tail + global_thread_index(); i < n; i += grid_thread_count()) {
        const float g = to_float(gate[i]), u = to_float(up[i]), d = to_float(d_out[i]);
        const float s = sigmoid(g);
        d_gate[i] = from_float<T>(d * u * s * (1.0f + g * (1.0f - s)));
        d_up[i] = from_float<T>(d * g * s);
    }
}

extern "C" __global__ void swiglu_bwd_bf16(bf16* d_gate, bf16* d_up, const bf16* gate, const bf16* up, const bf16* d_out, long long n, int vec) {
    swiglu_backward(d_gate, d_up, gate, up, d_out, n, vec);
}

extern "C" __global__ void swiglu_bwd_f32(float* d_gate, float* d_up, const float* gate, const float* up, const float* d_out, long long n, int vec) {
    swiglu_backward(d_gate, d_up, gate, up, d_out, n, vec);
}

template <typename T>
__device__ __forceinline__ void add_elements(T* y, const T* a, const T* b, long long n, int vec) {
    long long tail = 0;
    if (vec) {
        const long long chunks = n / 8;
        for (long long c = global_thread_index(); c < chunks; c += grid_thread_count()) {
            float va[8], vb[8];
            load8(a + 8 * c, va);
            load8(b + 8 * c, vb);
#pragma unroll
            for (int k = 0; k < 8; k++)
                va[k] += vb[k];
            store8(y + 8 * c, va);
        }
        tail = chunks * 8;
    }
    for (long long i = tail + global_thread_index(); i < n; i += grid_thread_count())
        y[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

extern "C" __global__ void add_bf16(bf16* y, const bf16* a, const bf16* b, long long n, int vec) {
    add_elements(y, a, b, n, vec);
}

extern "C" __global__ void add_f32(float* y, const float* a, const float* b, long long n, int vec) {
    add_elements(y, a, b, n, vec);
}
