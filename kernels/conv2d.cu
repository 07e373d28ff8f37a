// 2-D convolution with zero padding (any stride, padding per side) on fp32 NCHW activations, as an implicit GEMM:
// out[co, p] = sum_k W[co, k] * X[k, p] + bias[co], k = (ci, ky, kx) in the weight's own row-major order and p an
// output pixel, with X gathered from the input on the fly (im2col without the copy). fp32 accumulation; weights bf16
// or fp32 (weight_bf16), bias absent (bias_type 0), fp32 (1) or bf16 (2).
//
// A block computes 64 output channels x 64 pixels of one sample over K slices of 16, staged in shared memory; each
// thread accumulates 4 channels x 4 pixels (channels ty + 16 i, pixels tx + 16 j, so that stores coalesce). The
// kernel size is a template parameter for the 1x1 and 3x3 convolutions of the VQGAN (the tap arithmetic then uses
// constants), 0 for any other size.
#include "float_rows.cuh"

#define CONV_TILE_M 64
#define CONV_TILE_N 64
#define CONV_TILE_K 16
#define CONV_THREADS 256

template <int KS>
__device__ __forceinline__ void conv2d_tile(float* y, const float* x, const void* weight, int weight_bf16, const void* bias, int bias_type,
                                            int cin, int h, int w, int cout, int kh_arg, int kw_arg, int ho, int wo, int stride,
                                            int pad_top, int pad_left) {
    __shared__ float a_tile[CONV_TILE_K][CONV_TILE_M + 1];
    __shared__ float b_tile[CONV_TILE_K][CONV_TILE_N];
    const int kh = KS > 0 ? KS : kh_arg, kw = KS > 0 ? KS : kw_arg;
    const int taps = kh * kw;
    const int k_total = cin * taps;
    const long long pixels = (long long)ho * wo;
    const int tid = threadIdx.x;
    const int co0 = blockIdx.y * CONV_TILE_M;
    const long long p0 = (long long)blockIdx.x * CONV_TILE_N;
    const float* xs = x + (long long)blockIdx.z * cin * h * w;

    // The pixel this thread gathers input for: column tid % 64 of the tile, slice rows tid / 64 + 4 r.
    const int gather_column = tid & 63;
    const long long gather_pixel = p0 + gather_column;
    const bool pixel_inside = gather_pixel < pixels;
    const int oy = pixel_inside ? (int)(gather_pixel / wo) : 0, ox = pixel_inside ? (int)(gather_pixel % wo) : 0;
    const int iy0 = oy * stride - pad_top, ix0 = ox * stride - pad_left;

    const int ty = tid >> 4, tx = tid & 15;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
            acc[i][j] = 0.0f;

    for (int k0 = 0; k0 < k_total; k0 += CONV_TILE_K) {
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int e = tid + CONV_THREADS * r, m = e >> 4, kk = e & 15;
            const int co = co0 + m, k = k0 + kk;
            a_tile[kk][m] = co < cout && k < k_total ? load_any(weight, weight_bf16, (long long)co * k_total + k) : 0.0f;
        }
#pragma unroll
        for (int r = 0; r < 4; r++) {
            const int kk = (tid >> 6) + 4 * r, k = k0 + kk;
            float v = 0.0f;
            if (pixel_inside && k < k_total) {
                const int ci = k / taps, tap = k - ci * taps;
                const int ky = tap / kw, kx = tap - ky * kw;
                const int iy = iy0 + ky, ix = ix0 + kx;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                    v = xs[((long long)ci * h + iy) * w + ix];
            }
            b_tile[kk][gather_column] = v;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < CONV_TILE_K; kk++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++)
                a[i] = a_tile[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; j++)
                b[j] = b_tile[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }

    float* ys = y + (long long)blockIdx.z * cout * pixels;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int co = co0 + ty + 16 * i;
        if (co >= cout)
            continue;
        const float b = bias_type == 0 ? 0.0f : load_any(bias, bias_type == 2, co);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const long long p = p0 + tx + 16 * j;
            if (p < pixels)
                ys[(long long)co * pixels + p] = acc[i][j] + b;
        }
    }
}

#define COAR_CONV2D(name, KS)                                                                                              \
    extern "C" __global__ void __launch_bounds__(CONV_THREADS)                                                             \
        name(float* y, const float* x, const void* weight, int weight_bf16, const void* bias, int bias_type, int cin, int h, \
             int w, int cout, int kh, int kw, int ho, int wo, int stride, int pad_top, int pad_left) {                     \
        conv2d_tile<KS>(y, x, weight, weight_bf16, bias, bias_type, cin, h, w, cout, kh, kw, ho, wo, stride, pad_top,      \
                        pad_left);                                                                                         \
    }
COAR_CONV2D(conv2d_k1_f32, 1)
COAR_CONV2D(conv2d_k3_f32, 3)
COAR_CONV2D(conv2d_any_f32, 0)
