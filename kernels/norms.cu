// The transformer's normalizations and their input gradients (weights are frozen: no weight gradients): RMSNorm over a
// row, and the per-head LayerNorm of q and k (qk-norm), with the CPU reference's formulas and fp32 statistics.
// Activations x, y, dx share one storage type, bf16 or fp32 (the kernel's suffix); weights and the incoming gradient
// dy are bf16 or fp32 by run-time flags. y may be x itself; dx is apart from x and dy (the host checks). vec = 1 when
// rows are whole 8-element vectors and every pointer is 16-byte aligned (the host checks), for 16-byte accesses.
#include "float_rows.cuh"

// ---- RMSNorm: one block per row of d elements ------------------------------------------------------------------
// y = (x * rsqrt(mean(x^2) + eps)) * w.
template <typename T>
__device__ __forceinline__ void rmsnorm_forward(T* y, const T* x, const void* weight, int weight_bf16, int d, float eps, int vec) {
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    const T* xr = x + row * d;
    T* yr = y + row * d;
    float squares = 0.0f;
    if (vec) {
        for (int c = threadIdx.x * 8; c < d; c += blockDim.x * 8) {
            float v[8];
            load8(xr + c, v);
#pragma unroll
            for (int k = 0; k < 8; k++)
                squares += v[k] * v[k];
        }
    } else {
        for (int c = threadIdx.x; c < d; c += blockDim.x) {
            const float v = to_float(xr[c]);
            squares += v * v;
        }
    }
    // The reduction synchronizes the block, so every read of x is done before y (possibly x) is written.
    squares = block_sum(squares, scratch);
    const float scale = 1.0f / sqrtf(squares / d + eps);
    if (vec) {
        for (int c = threadIdx.x * 8; c < d; c += blockDim.x * 8) {
            float v[8], w[8];
            load8(xr + c, v);
            load8_any(weight, weight_bf16, c, w);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] = v[k] * scale * w[k];
            store8(yr + c, v);
        }
    } else {
        for (int c = threadIdx.x; c < d; c += blockDim.x)
            yr[c] = from_float<T>(to_float(xr[c]) * scale * load_any(weight, weight_bf16, c));
    }
}

// With r = (sum(x^2)/d + eps)^-1/2: dx_k = r w_k dy_k - x_k c, c = r^3 / d * sum_j(dy_j w_j x_j), the sum and c in fp64.
template <typename T>
__device__ __forceinline__ void rmsnorm_backward(T* dx, const T* x, const void* dy, int dy_bf16, const void* weight, int weight_bf16,
                                                 int d, float eps, int vec, int accumulate) {
    __shared__ float float_scratch[32];
    __shared__ double double_scratch[32];
    const long long offset = (long long)blockIdx.x * d;
    const T* xr = x + offset;
    T* dxr = dx + offset;
    float squares = 0.0f;
    double dot = 0.0;
    if (vec) {
        for (int c = threadIdx.x * 8; c < d; c += blockDim.x * 8) {
            float v[8], g[8], w[8];
            load8(xr + c, v);
            load8_any(dy, dy_bf16, offset + c, g);
            load8_any(weight, weight_bf16, c, w);
#pragma unroll
            for (int k = 0; k < 8; k++) {
                squares += v[k] * v[k];
                dot += (double)g[k] * w[k] * v[k];
            }
        }
    } else {
        for (int c = threadIdx.x; c < d; c += blockDim.x) {
            const float v = to_float(xr[c]);
            squares += v * v;
            dot += (double)load_any(dy, dy_bf16, offset + c) * load_any(weight, weight_bf16, c) * v;
        }
    }
    squares = block_sum(squares, float_scratch);
    dot = block_sum(dot, double_scratch);
    const float r = 1.0f / sqrtf(squares / d + eps);
    const float coefficient = (float)(dot * r * r * r / d);
    if (vec) {
        for (int c = threadIdx.x * 8; c < d; c += blockDim.x * 8) {
            float v[8], g[8], w[8], out[8];
            load8(xr + c, v);
            load8_any(dy, dy_bf16, offset + c, g);
            load8_any(weight, weight_bf16, c, w);
            if (accumulate)
                load8(dxr + c, out);
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const float grad = r * w[k] * g[k] - v[k] * coefficient;
                out[k] = accumulate ? out[k] + grad : grad;
            }
            store8(dxr + c, out);
        }
    } else {
        for (int c = threadIdx.x; c < d; c += blockDim.x) {
            const float grad = r * load_any(weight, weight_bf16, c) * load_any(dy, dy_bf16, offset + c) - to_float(xr[c]) * coefficient;
            dxr[c] = from_float<T>(accumulate ? to_float(dxr[c]) + grad : grad);
        }
    }
}

extern "C" __global__ void rmsnorm_fwd_bf16(bf16* y, const bf16* x, const void* weight, int weight_bf16, int d, float eps, int vec) {
    rmsnorm_forward(y, x, weight, weight_bf16, d, eps, vec);
}

extern "C" __global__ void rmsnorm_fwd_f32(float* y, const float* x, const void* weight, int weight_bf16, int d, float eps, int vec) {
    rmsnorm_forward(y, x, weight, weight_bf16, d, eps, vec);
}

extern "C" __global__ void rmsnorm_bwd_bf16(bf16* dx, const bf16* x, const void* dy, int dy_bf16, const void* weight, int weight_bf16,
                                            int d, float eps, int vec, int accumulate) {
    rmsnorm_backward(dx, x, dy, dy_bf16, weight, weight_bf16, d, eps, vec, accumulate);
}

extern "C" __global__ void rmsnorm_bwd_f32(float* dx, const float* x, const void* dy, int dy_bf16, const void* weight, int weight_bf16,
                                           int d, float eps, int vec, int accumulate) {
    rmsnorm_backward(dx, x, dy, dy_bf16, weight, weight_bf16, d, eps, vec, accumulate);
}

// ---- per-head LayerNorm: sixteen lanes (a half warp) per head row ----------------------------------------------
// A row of dh = 128 bf16 is one 16-byte vector per lane; blockDim / 16 rows per block. Every lane takes part in the
// shuffles, also those past the last row (valid = false). Each lane reads and writes only its own elements, so the
// forward may run in place.

// This lane's head row: its lane within the row's 16, whether the row exists, where it starts in the activations and
// where its norm group's weights start (row 0's, for lanes past the last row, so addresses stay valid).
struct HeadRow {
    int sub;
    bool valid;
    long long offset, weight_offset;
};

__device__ __forceinline__ HeadRow head_row(long long rows, int heads, int dh, int heads_per_group) {
    const long long row = (long long)blockIdx.x * (blockDim.x / 16) + threadIdx.x / 16;
    HeadRow h;
    h.sub = threadIdx.x & 15;
    h.valid = row < rows;
    h.offset = (h.valid ? row : 0) * dh;
    h.weight_offset = h.valid ? (long long)((int)(row % heads) / heads_per_group) * dh : 0;
    return h;
}

// Visits this lane's elements of a head row: visit(column, value).
template <typename T, typename Visit>
__device__ __forceinline__ void for_each_head_element(const T* xr, int dh, int sub, int vec, Visit visit) {
    if (vec) {
        for (int c = sub * 8; c < dh; c += 128) {
            float v[8];
            load8(xr + c, v);
#pragma unroll
            for (int k = 0; k < 8; k++)
                visit(c + k, v[k]);
        }
    } else {
        for (int c = sub; c < dh; c += 16)
            visit(c, to_float(xr[c]));
    }
}

// The row's mean and 1 / sqrt(biased variance + eps), in two passes as the CPU reference computes them.
template <typename T>
__device__ __forceinline__ void head_row_statistics(const T* xr, int dh, int sub, bool valid, int vec, float eps, float& mean, float& inv) {
    float sum = 0.0f;
    if (valid)
        for_each_head_element(xr, dh, sub, vec, [&](int, float v) { sum += v; });
    const float m = half_warp_sum(sum) / dh;
    float centered = 0.0f;
    if (valid)
        for_each_head_element(xr, dh, sub, vec, [&](int, float v) { centered += (v - m) * (v - m); });
    mean = m;
    inv = 1.0f / sqrtf(half_warp_sum(centered) / dh + eps);
}

// y = ((x - mean) / sqrt(biased var + eps)) * gamma[g] + beta[g], g = head / heads_per_group.
template <typename T>
__device__ __forceinline__ void head_layernorm_forward(T* y, const T* x, const void* gamma, const void* beta, int weight_bf16,
                                                       long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    const HeadRow h = head_row(rows, heads, dh, heads_per_group);
    const int sub = h.sub;
    const long long offset = h.offset, g0 = h.weight_offset;
    float mean, inv;
    head_row_statistics(x + offset, dh, sub, h.valid, vec, eps, mean, inv);
    if (!h.valid)
        return;
    const T* xr = x + offset;
    T* yr = y + offset;
    if (vec) {
        for (int c = sub * 8; c < dh; c += 128) {
            float v[8], g[8], b[8];
            load8(xr + c, v);
            load8_any(gamma, weight_bf16, g0 + c, g);
            load8_any(beta, weight_bf16, g0 + c, b);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] = (v[k] - mean) * inv * g[k] + b[k];
            store8(yr + c, v);
        }
    } else {
        for (int c = sub; c < dh; c += 16) {
            const float v = (to_float(xr[c]) - mean) * inv;
            yr[c] = from_float<T>(v * load_any(gamma, weight_bf16, g0 + c) + load_any(beta, weight_bf16, g0 + c));
        }
    }
}

// With xhat = (x - mean) * inv and g = dy * gamma: dx = inv * (g - mean(g) - xhat * mean(g * xhat)), the means summed in fp64.
template <typename T>
__device__ __forceinline__ void head_layernorm_backward(T* dx, const T* x, const void* dy, int dy_bf16, const void* gamma, int weight_bf16,
                                                        long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    const HeadRow h = head_row(rows, heads, dh, heads_per_group);
    const int sub = h.sub;
    const long long offset = h.offset, g0 = h.weight_offset;
    const T* xr = x + offset;
    float mean, inv;
    head_row_statistics(xr, dh, sub, h.valid, vec, eps, mean, inv);

    double sum_g = 0.0, sum_gx = 0.0;
    if (h.valid) {
        for_each_head_element(xr, dh, sub, vec, [&](int c, float v) {
            const double g = (double)load_any(dy, dy_bf16, offset + c) * load_any(gamma, weight_bf16, g0 + c);
            sum_g += g;
            sum_gx += g * ((v - mean) * inv);
        });
    }
    const float mean_g = (float)(half_warp_sum(sum_g) / dh);
    const float mean_gx = (float)(half_warp_sum(sum_gx) / dh);
    if (!h.valid)
        return;
    T* dxr = dx + offset;
    if (vec) {
        for (int c = sub * 8; c < dh; c += 128) {
            float v[8], g[8], gam[8];
            load8(xr + c, v);
            load8_any(dy, dy_bf16, offset + c, g);
            load8_any(gamma, weight_bf16, g0 + c, gam);
#pragma unroll
            for (int k = 0; k < 8; k++)
                v[k] = inv * (g[k] * gam[k] - mean_g - (v[k] - mean) * inv * mean_gx);
            store8(dxr + c, v);
        }
    } else {
        for (int c = sub; c < dh; c += 16) {
            const float g = load_any(dy, dy_bf16, offset + c) * load_any(gamma, weight_bf16, g0 + c);
            dxr[c] = from_float<T>(inv * (g - mean_g - (to_float(xr[c]) - mean) * inv * mean_gx));
        }
    }
}

extern "C" __global__ void headnorm_fwd_bf16(bf16* y, const bf16* x, const void* gamma, const void* beta, int weight_bf16,
                                             long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_forward(y, x, gamma, beta, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}

extern "C" __global__ void headnorm_fwd_f32(float* y, const float* x, const void* gamma, const void* beta, int weight_bf16,
                                            long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_forward(y, x, gamma, beta, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}

extern "C" __global__ void headnorm_bwd_bf16(bf16* dx, const bf16* x, const void* dy, int dy_bf16, const void* gamma, int weight_bf16,
                                             long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_backward(dx, x, dy, dy_bf16, gamma, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}

extern "C" __global__ void headnorm_bwd_f32(float* dx, const float* x, const void* dy, int dy_bf16, const void* gamma, int weight_bf16,
                                            long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_backward(dx, x, dy, dy_bf16, gamma, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}
