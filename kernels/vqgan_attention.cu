// The VQGAN's single-head attention over the H*W positions of each sample, fp32, on channel-major [N, C, P] tensors:
// y[:, i] = sum_j softmax_j(q[:, i] . k[:, j] * scale) v[:, j]. Flash style: a block takes 16 queries and walks the
// keys in tiles of 64 with an online softmax (running maximum and sum per query), so no P x P score matrix exists.
//
// Per key tile: scores (16 x 64, each thread 4 keys of one query) over channel slices of 32 staged in shared memory,
// the online-softmax update by the 16 threads of each query (a half warp), the probabilities staged key-major, then
// every thread updates its output channels (2 per thread: a block covers 512 channels; grid.y splits larger C, each
// split recomputing the scores over all channels).
#include "float_rows.cuh"

#define SA_QUERIES 16
#define SA_KEYS 64
#define SA_CHANNEL_STEP 32
#define SA_THREADS 256
#define SA_CHANNELS_PER_THREAD 2

// grid (ceil(P / 16), ceil(C / 512), N). vec = 1 when P % 4 == 0 and v is 16-byte aligned (float4 value reads).
extern "C" __global__ void __launch_bounds__(SA_THREADS)
spatial_attention_f32(float* y, const float* q, const float* k, const float* v, int channels, int positions, float scale, int vec) {
    __shared__ float q_tile[SA_CHANNEL_STEP][SA_QUERIES];
    __shared__ __align__(16) float k_tile[SA_CHANNEL_STEP][SA_KEYS];
    __shared__ __align__(16) float p_tile[SA_KEYS][SA_QUERIES];
    __shared__ float rescale[SA_QUERIES];
    __shared__ float inverse_sum[SA_QUERIES];
    const int tid = threadIdx.x;
    const long long plane = (long long)blockIdx.z * channels * positions;
    const float* qs = q + plane;
    const float* ks = k + plane;
    const float* vs = v + plane;
    const int i0 = blockIdx.x * SA_QUERIES;
    const int c_base = blockIdx.y * SA_THREADS * SA_CHANNELS_PER_THREAD;

    // Score role: query qi of the tile, keys kq .. kq + 3 of each key tile.
    const int qi = tid >> 4, kq = (tid & 15) * 4;
    float run_max = negative_infinity(), run_sum = 0.0f;

    // Output role: channels c_base + tid + 256 r, all 16 queries.
    float o[SA_CHANNELS_PER_THREAD][SA_QUERIES];
#pragma unroll
    for (int r = 0; r < SA_CHANNELS_PER_THREAD; r++)
#pragma unroll
        for (int i = 0; i < SA_QUERIES; i++)
            o[r][i] = 0.0f;

    for (int j0 = 0; j0 < positions; j0 += SA_KEYS) {
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int c0 = 0; c0 < channels; c0 += SA_CHANNEL_STEP) {
            __syncthreads(); // previous readers of the tiles (and of p_tile / rescale) are done
#pragma unroll
            for (int r = 0; r < 2; r++) {
                const int e = tid + SA_THREADS * r, cc = e >> 4, ii = e & 15;
                const int c = c0 + cc, p = i0 + ii;
                q_tile[cc][ii] = c < channels && p < positions ? qs[(long long)c * positions + p] : 0.0f;
            }
#pragma unroll
            for (int r = 0; r < 8; r++) {
                const int e = tid + SA_THREADS * r, cc = e >> 6, jj = e & 63;
                const int c = c0 + cc, j = j0 + jj;
                k_tile[cc][jj] = c < channels && j < positions ? ks[(long long)c * positions + j] : 0.0f;
            }
            __syncthreads();
#pragma unroll 8
            for (int cc = 0; cc < SA_CHANNEL_STEP; cc++) {
                const float qv = q_tile[cc][qi];
                const float4 kv = *reinterpret_cast<const float4*>(&k_tile[cc][kq]);
                s[0] += qv * kv.x;
                s[1] += qv * kv.y;
                s[2] += qv * kv.z;
                s[3] += qv * kv.w;
            }
        }

        // Online softmax of query qi over this tile; the tile always holds key j0 < P, so the new maximum is finite
        // and the first tile's rescale is exp(-inf) = 0.
        float tile_max = negative_infinity();
#pragma unroll
        for (int b = 0; b < 4; b++) {
            s[b] = j0 + kq + b < positions ? s[b] * scale : negative_infinity();
            tile_max = fmaxf(tile_max, s[b]);
        }
        const float new_max = fmaxf(run_max, half_warp_max(tile_max));
        const float alpha = expf(run_max - new_max);
        float tile_sum = 0.0f;
#pragma unroll
        for (int b = 0; b < 4; b++) {
            const float p = j0 + kq + b < positions ? expf(s[b] - new_max) : 0.0f;
            p_tile[kq + b][qi] = p;
            tile_sum += p;
        }
        run_sum = run_sum * alpha + half_warp_sum(tile_sum);
        run_max = new_max;
        if ((tid & 15) == 0)
            rescale[qi] = alpha;
        __syncthreads();

#pragma unroll
        for (int r = 0; r < SA_CHANNELS_PER_THREAD; r++) {
            const int c = c_base + tid + SA_THREADS * r;
            if (c >= channels)
                continue;
#pragma unroll
            for (int i = 0; i < SA_QUERIES; i++)
                o[r][i] *= rescale[i];
            const float* vr = vs + (long long)c * positions + j0;
            const int keys = min(SA_KEYS, positions - j0);
            for (int jj = 0; jj < keys; jj += 4) {
                float vv[4];
                if (vec && jj + 4 <= keys) {
                    const float4 q4 = *reinterpret_cast<const float4*>(vr + jj);
                    vv[0] = q4.x; vv[1] = q4.y; vv[2] = q4.z; vv[3] = q4.w;
                } else {
#pragma unroll
                    for (int t = 0; t < 4; t++)
                        vv[t] = jj + t < keys ? vr[jj + t] : 0.0f;
                }
#pragma unroll
                for (int t = 0; t < 4; t++) {
#pragma unroll
                    for (int i4 = 0; i4 < SA_QUERIES; i4 += 4) {
                        const float4 p4 = *reinterpret_cast<const float4*>(&p_tile[jj + t][i4]);
                        o[r][i4] += p4.x * vv[t];
                        o[r][i4 + 1] += p4.y * vv[t];
                        o[r][i4 + 2] += p4.z * vv[t];
                        o[r][i4 + 3] += p4.w * vv[t];
                    }
                }
            }
        }
    }

    if ((tid & 15) == 0)
        inverse_sum[qi] = 1.0f / run_sum;
    __syncthreads();
    float* ys = y + plane;
#pragma unroll
    for (int r = 0; r < SA_CHANNELS_PER_THREAD; r++) {
        const int c = c_base + tid + SA_THREADS * r;
        if (c >= channels)
            continue;
#pragma unroll
        for (int i = 0; i < SA_QUERIES; i++)
            if (i0 + i < positions)
                ys[(long long)c * positions + i0 + i] = o[r][i] * inverse_sum[i];
    }
}
