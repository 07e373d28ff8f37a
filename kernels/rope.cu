// Rotary position embedding, rotate-half layout: dims j and j + dh/2 of every head form a pair rotated by
// direction * pos * inv_freq[j]. direction = 1 is RoPE, -1 its inverse, which is also its input gradient (the
// rotation is orthogonal). x and y are [T, heads, dh], bf16 or fp32; y may be x itself.
//
// The angles follow the CPU reference bit for bit where the hardware allows: inv_freq = theta^(-2j/dh) in fp64
// rounded to fp32, angle = float(pos) * inv_freq in fp32, cos and sin of it in fp64 rounded to fp32.
#include "float_rows.cuh"

// One block per token; dynamic shared memory holds cos[dh/2] then direction * sin[dh/2] (dh floats).
template <typename T>
__device__ __forceinline__ void rope_rotate(T* y, const T* x, const int* positions, int heads, int dh, float theta, float direction, int vec) {
    extern __shared__ float trig[];
    const int half = dh / 2;
    const long long t = blockIdx.x;
    const float position = (float)positions[t];
    for (int j = threadIdx.x; j < half; j += blockDim.x) {
        const float inv_freq = (float)(1.0 / pow((double)theta, 2.0 * j / dh));
        const float angle = position * inv_freq;
        double s, c;
        sincos((double)angle, &s, &c);
        trig[j] = (float)c;
        trig[half + j] = direction * (float)s;
    }
    __syncthreads();

    const T* xt = x + t * heads * dh;
    T* yt = y + t * heads * dh;
    // Each pair is read and written by one thread only, so rotating in place is safe.
    if (vec) {
        const int chunks = half / 8; // 8 pairs per step: a 16-byte bf16 vector from each half
        for (int i = threadIdx.x; i < heads * chunks; i += blockDim.x) {
            const int j = (i % chunks) * 8;
            const long long at = (long long)(i / chunks) * dh + j;
            float a[8], b[8];
            load8(xt + at, a);
            load8(xt + at + half, b);
#pragma unroll
            for (int k = 0; k < 8; k++) {
                const float c = trig[j + k], s = trig[half + j + k];
                const float first = a[k] * c - b[k] * s;
                b[k] = b[k] * c + a[k] * s;
                a[k] = first;
            }
            store8(yt + at, a);
            store8(yt + at + half, b);
        }
    } else {
        for (int i = threadIdx.x; i < heads * half; i += blockDim.x) {
            const int j = i % half;
            const long long at = (long long)(i / half) * dh + j;
            const float a = to_float(xt[at]), b = to_float(xt[at + half]);
            const float c = trig[j], s = trig[half + j];
            yt[at] = from_float<T>(a * c - b * s);
            yt[at + half] = from_float<T>(b * c + a * s);
        }
    }
}

extern "C" __global__ void rope_bf16(bf16* y, const bf16* x, const int* positions, int heads, int dh, float theta, float direction, int vec) {
    rope_rotate(y, x, positions, heads, dh, theta, direction, vec);
}

extern "C" __global__ void rope_f32(float* y, const float* x, const int* positions, int heads, int dh, float theta, float direction, int vec) {
    rope_rotate(y, x, positions, heads, dh, theta, direction, vec);
}
