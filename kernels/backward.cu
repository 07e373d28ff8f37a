// Input gradients of the normalizations (weights are frozen: no weight gradients), with the CPU reference's formulas.
// x and dx share one storage type (the kernel's suffix); dy and the weights are bf16 or fp32 by run-time flags.
// dx is apart from x and dy (the host checks). vec = 1 when rows are whole 8-element vectors and every pointer is
// 16-byte aligned. (RoPE's gradient is rope.cu with direction -1; SwiGLU's is in pointwise.cu; KvStore's in rows.cu.)
#include "float_rows.cuh"

// RMSNorm y = w * x * r, r = (sum(x^2)/d + eps)^-1/2:
// dx_k = r w_k dy_k - x_k c, c = r^3 / d * sum_j(dy_j w_j x_j) (the sum and c in fp64). One block per row.
template <typename T>
__device__ __forceinline__ void rmsnorm_backward(T* dx, const T* x, const void* dy, int dy_bf16, const void* weight, int weight_bf16,
                                                 int d, float eps, int vec, int accumulate) {
    __shared__ float float_scratch[32];
    __shared__ double double_scratch[32];
    const long long row = blockIdx.x;
    const long long offset = row * d;
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

extern "C" __global__ void rmsnorm_bwd_bf16(bf16* dx, const bf16* x, const void* dy, int dy_bf16, const void* weight, int weight_bf16,
                                            int d, float eps, int vec, int accumulate) {
    rmsnorm_backward(dx, x, dy, dy_bf16, weight, weight_bf16, d, eps, vec, accumulate);
}

extern "C" __global__ void rmsnorm_bwd_f32(float* dx, const float* x, const void* dy, int dy_bf16, const void* weight, int weight_bf16,
                                           int d, float eps, int vec, int accumulate) {
    rmsnorm_backward(dx, x, dy, dy_bf16, weight, weight_bf16, d, eps, vec, accumulate);
}

// Per-head LayerNorm: with xhat = (x - mean) * inv and g = dy * gamma, dx = inv * (g - mean(g) - xhat * mean(g * xhat)),
// the two means summed in fp64. Sixteen lanes per head row as in the forward (norms.cu).
template <typename T>
__device__ __forceinline__ void head_layernorm_backward(T* dx, const T* x, const void* dy, int dy_bf16, const void* gamma, int weight_bf16,
                                                        long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    const long long row = (long long)blockIdx.x * (blockDim.x / 16) + threadIdx.x / 16;
    const int sub = threadIdx.x & 15;
    const bool valid = row < rows;
    const long long offset = (valid ? row : 0) * dh;
    const T* xr = x + offset;
    const long long g0 = valid ? (long long)((int)(row % heads) / heads_per_group) * dh : 0;

    float sum = 0.0f;
    if (valid) {
        if (vec) {
            for (int c = sub * 8; c < dh; c += 128) {
                float v[8];
                load8(xr + c, v);
#pragma unroll
                for (int k = 0; k < 8; k++)
                    sum += v[k];
            }
        } else {
            for (int c = sub; c < dh; c += 16)
                sum += to_float(xr[c]);
        }
    }
    const float mean = half_warp_sum(sum) / dh;

    float centered = 0.0f;
    if (valid) {
        if (vec) {
            for (int c = sub * 8; c < dh; c += 128) {
                float v[8];
                load8(xr + c, v);
#pragma unroll
                for (int k = 0; k < 8; k++)
                    centered += (v[k] - mean) * (v[k] - mean);
            }
        } else {
            for (int c = sub; c < dh; c += 16) {
                const float v = to_float(xr[c]) - mean;
                centered += v * v;
            }
        }
    }
    const float inv = 1.0f / sqrtf(half_warp_sum(centered) / dh + eps);

    double sum_g = 0.0, sum_gx = 0.0;
    if (valid) {
        if (vec) {
            for (int c = sub * 8; c < dh; c += 128) {
                float v[8], g[8], gam[8];
                load8(xr + c, v);
                load8_any(dy, dy_bf16, offset + c, g);
                load8_any(gamma, weight_bf16, g0 + c, gam);
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    const double gk = (double)g[k] * gam[k];
                    sum_g += gk;
                    sum_gx += gk * ((v[k] - mean) * inv);
                }
            }
        } else {
            for (int c = sub; c < dh; c += 16) {
                const double gk = (double)load_any(dy, dy_bf16, offset + c) * load_any(gamma, weight_bf16, g0 + c);
                sum_g += gk;
                sum_gx += gk * ((to_float(xr[c]) - mean) * inv);
            }
        }
    }
    const float mean_g = (float)(half_warp_sum(sum_g) / dh);
    const float mean_gx = (float)(half_warp_sum(sum_gx) / dh);

    if (!valid)
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

extern "C" __global__ void headnorm_bwd_bf16(bf16* dx, const bf16* x, const void* dy, int dy_bf16, const void* gamma, int weight_bf16,
                                             long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_backward(dx, x, dy, dy_bf16, gamma, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}

extern "C" __global__ void headnorm_bwd_f32(float* dx, const float* x, const void* dy, int dy_bf16, const void* gamma, int weight_bf16,
                                            long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_backward(dx, x, dy, dy_bf16, gamma, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}
