// Forward normalizations of the transformer: RMSNorm over a row, and the per-head LayerNorm of q and k (qk-norm).
// Activations x and y are bf16 or fp32 (y may be x itself); weights are bf16 or fp32 (weight_bf16 says which).
// Statistics in fp32 as the CPU reference computes them. vec = 1 when rows are whole 8-element vectors and every
// pointer is 16-byte aligned (the host checks), for 16-byte loads and stores.
#include "float_rows.cuh"

// One block per row of d elements: y = (x * rsqrt(mean(x^2) + eps)) * w.
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

extern "C" __global__ void rmsnorm_fwd_bf16(bf16* y, const bf16* x, const void* weight, int weight_bf16, int d, float eps, int vec) {
    rmsnorm_forward(y, x, weight, weight_bf16, d, eps, vec);
}

extern "C" __global__ void rmsnorm_fwd_f32(float* y, const float* x, const void* weight, int weight_bf16, int d, float eps, int vec) {
    rmsnorm_forward(y, x, weight, weight_bf16, d, eps, vec);
}

// Sixteen lanes per head row of dh elements (a row is 256 bytes of bf16 at dh = 128: one 16-byte vector per lane),
// blockDim / 16 rows per block. All lanes take part in the shuffles, also those past the last row.
// y = ((x - mean) / sqrt(biased var + eps)) * gamma[g] + beta[g], g = head / heads_per_group.
template <typename T>
__device__ __forceinline__ void head_layernorm_forward(T* y, const T* x, const void* gamma, const void* beta, int weight_bf16,
                                                       long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    const long long row = (long long)blockIdx.x * (blockDim.x / 16) + threadIdx.x / 16;
    const int sub = threadIdx.x & 15;
    const bool valid = row < rows;
    const T* xr = x + (valid ? row : 0) * dh;
    T* yr = y + (valid ? row : 0) * dh;
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
    // Each lane reads before the shuffle and writes after it only the elements it read itself, so y may be x.
    const float inv = 1.0f / sqrtf(half_warp_sum(centered) / dh + eps);

    if (valid) {
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
}

extern "C" __global__ void headnorm_fwd_bf16(bf16* y, const bf16* x, const void* gamma, const void* beta, int weight_bf16,
                                             long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_forward(y, x, gamma, beta, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}

extern "C" __global__ void headnorm_fwd_f32(float* y, const float* x, const void* gamma, const void* beta, int weight_bf16,
                                            long long rows, int heads, int dh, int heads_per_group, float eps, int vec) {
    head_layernorm_forward(y, x, gamma, beta, weight_bf16, rows, heads, dh, heads_per_group, eps, vec);
}
