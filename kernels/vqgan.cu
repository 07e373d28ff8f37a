// The image tokenizer's pointwise and quantizer ops on fp32 NCHW activations (weights bf16 or fp32 by a run-time
// flag): GroupNorm (+swish), nearest x2 upsampling, and the codebook's nearest-entry search and lookup.
#include "float_rows.cuh"

// ---- GroupNorm -------------------------------------------------------------------------------------------------
// A group of (C / groups) channels x H x W elements is contiguous and can hold millions of elements, so its
// statistics come from many blocks: groupnorm_stats gives each chunk's sum, the value it centred on (its own fp32
// mean) and its sum of squared deviations from that value; groupnorm_apply merges a group's chunks in fp64 (exact
// regrouping of two-pass statistics: sum (x - mean)^2 = sum (x - a)^2 + 2 (a - mean) sum(x - a) + n (a - mean)^2),
// then normalizes its own chunk. Every apply block of a group merges in the same order, so all see the same values.
#define GROUPNORM_THREADS 256
#define GROUPNORM_CHUNK 8192

// Visits the chunk's elements thread-strided, as float4 groups when vec (count % 4 == 0, x 16-byte aligned).
template <typename Visit>
__device__ __forceinline__ void for_each_in_chunk(const float* xs, int n, int vec, Visit visit) {
    if (vec) {
        for (int e = threadIdx.x * 4; e < n; e += blockDim.x * 4) {
            const float4 q = *reinterpret_cast<const float4*>(xs + e);
            visit(q.x);
            visit(q.y);
            visit(q.z);
            visit(q.w);
        }
    } else {
        for (int e = threadIdx.x; e < n; e += blockDim.x)
            visit(xs[e]);
    }
}

// grid (chunks, N * groups); partial[(group * chunks + chunk) * 3 + {0, 1, 2}] = sum, centre, squared deviations.
extern "C" __global__ void __launch_bounds__(GROUPNORM_THREADS)
groupnorm_stats_f32(double* partial, const float* x, long long count, int chunks, int vec) {
    __shared__ float scratch[32];
    const long long group = blockIdx.y;
    const long long start = (long long)blockIdx.x * GROUPNORM_CHUNK;
    const int n = (int)min((long long)GROUPNORM_CHUNK, count - start);
    const float* xs = x + group * count + start;
    float sum = 0.0f;
    for_each_in_chunk(xs, n, vec, [&](float v) { sum += v; });
    sum = block_sum(sum, scratch);
    const float centre = sum / n;
    float squares = 0.0f;
    for_each_in_chunk(xs, n, vec, [&](float v) { squares += (v - centre) * (v - centre); });
    squares = block_sum(squares, scratch);
    if (threadIdx.x == 0) {
        double* out = partial + (group * chunks + blockIdx.x) * 3;
        out[0] = sum;
        out[1] = centre;
        out[2] = squares;
    }
}

// y = (x - mean) * (inv * gamma[c]) + beta[c] as one fma, then x * sigmoid(x) when swish; grid (chunks, N * groups).
// y may be x (each element is read, then written, by one thread; the statistics came from the previous launch).
// vec additionally needs H * W % 4 == 0 so that a float4 never straddles two channels.
extern "C" __global__ void __launch_bounds__(GROUPNORM_THREADS)
groupnorm_apply_f32(float* y, const float* x, const double* partial, const void* gamma, const void* beta, int weight_bf16, int groups,
                    int channels_per_group, long long hw, int chunks, float eps, int swish, int vec) {
    __shared__ double scratch[32];
    const long long group = blockIdx.y;
    const long long count = channels_per_group * hw;
    const double* stats = partial + group * chunks * 3;
    double total = 0.0;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x)
        total += stats[3 * c];
    total = block_sum(total, scratch);
    const double mean = total / count;
    double deviations = 0.0;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
        const double n = (double)min((long long)GROUPNORM_CHUNK, count - (long long)c * GROUPNORM_CHUNK);
        const double centre = stats[3 * c + 1], shift = centre - mean;
        deviations += stats[3 * c + 2] + 2.0 * shift * (stats[3 * c] - n * centre) + n * shift * shift;
    }
    deviations = block_sum(deviations, scratch);
    const float mean_f = (float)mean;
    const float inv = 1.0f / sqrtf((float)(deviations / count) + eps);

    const long long start = (long long)blockIdx.x * GROUPNORM_CHUNK;
    const int n = (int)min((long long)GROUPNORM_CHUNK, count - start);
    const long long offset = group * count + start;
    const int c0 = (int)(group % groups) * channels_per_group;
    const int step = vec ? 4 : 1;
    for (int e = threadIdx.x * step; e < n; e += blockDim.x * step) {
        const int channel = c0 + (int)((start + e) / hw);
        const float scale = inv * load_any(gamma, weight_bf16, channel), bias = load_any(beta, weight_bf16, channel);
        float v[4];
        if (vec) {
            const float4 q = *reinterpret_cast<const float4*>(x + offset + e);
            v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
        } else {
            v[0] = x[offset + e];
        }
#pragma unroll
        for (int k = 0; k < 4; k++) {
            if (k < step) {
                v[k] = fmaf(v[k] - mean_f, scale, bias);
                if (swish)
                    v[k] = v[k] / (1.0f + expf(-v[k]));
            }
        }
        if (vec)
            *reinterpret_cast<float4*>(y + offset + e) = make_float4(v[0], v[1], v[2], v[3]);
        else
            y[offset + e] = v[0];
    }
}

// ---- nearest x2 upsampling -------------------------------------------------------------------------------------
// Input element (row, j) of the N*C*H input rows of width w becomes outputs (2 row', 2j..2j+1) and the next output
// row, i.e. y[row * 4w + 2j (+1)] and y[row * 4w + 2w + 2j (+1)]. pairs = 1 when y is 8-byte aligned (float2 stores).
extern "C" __global__ void upsample2x_f32(float* y, const float* x, long long count, int w, int pairs) {
    for (long long i = global_thread_index(); i < count; i += grid_thread_count()) {
        const float v = x[i];
        const long long row = i / w, j = i % w;
        float* top = y + row * 4 * w + 2 * j;
        float* bottom = top + 2 * w;
        if (pairs) {
            *reinterpret_cast<float2*>(top) = make_float2(v, v);
            *reinterpret_cast<float2*>(bottom) = make_float2(v, v);
        } else {
            top[0] = top[1] = v;
            bottom[0] = bottom[1] = v;
        }
    }
}

// ---- codebook --------------------------------------------------------------------------------------------------
// The distance is formed as the CPU forms it, (||z||^2 + ||e||^2) - 2 z.e in fp32, with both squared norms summed
// sequentially over channels with separately rounded products and sums (the CPU's order, bit for bit); only z.e is
// accumulated in a different order. Ties go to the smallest entry index.

// norms[e] = ||codebook[e]||^2, one thread per entry.
extern "C" __global__ void codebook_norms(float* norms, const void* codebook, int weight_bf16, int entries, int channels) {
    for (long long e = global_thread_index(); e < entries; e += grid_thread_count()) {
        float sum = 0.0f;
        for (int c = 0; c < channels; c++) {
            const float v = load_any(codebook, weight_bf16, e * channels + c);
            sum = __fadd_rn(sum, __fmul_rn(v, v));
        }
        norms[e] = sum;
    }
}

#define ARGMIN_POSITIONS 32
#define ARGMIN_ENTRIES 64
#define ARGMIN_CHANNELS 32
#define ARGMIN_THREADS 256

// grid (ceil(P / 32), splits, N): block (tile, split, n) finds, for 32 positions of sample n, the nearest entry among
// the entry tiles [split * tiles_per_split, ...) of 64 entries, and writes the (distance, index) pair to
// best_distance / best_index[(n * splits + split) * P + p] (index -1 when no distance was below +inf).
// Thread t computes z.e for positions 2 (t % 16) + {0, 1} and entries 4 (t / 16) + {0..3} of the tile.
extern "C" __global__ void
codebook_argmin_partial(float* best_distance, int* best_index, const float* z, const void* codebook, int weight_bf16, const float* norms,
                        int entries, int channels, int positions, int tiles_per_split, int splits) {
    __shared__ float z_tile[ARGMIN_CHANNELS][ARGMIN_POSITIONS];
    __shared__ float e_tile[ARGMIN_CHANNELS][ARGMIN_ENTRIES + 1];
    __shared__ float latent_norm[ARGMIN_POSITIONS];
    __shared__ float candidate_distance[ARGMIN_ENTRIES / 4][ARGMIN_POSITIONS];
    __shared__ int candidate_index[ARGMIN_ENTRIES / 4][ARGMIN_POSITIONS];
    const int tid = threadIdx.x;
    const int sample = blockIdx.z, split = blockIdx.y;
    const int p0 = blockIdx.x * ARGMIN_POSITIONS;
    const float* zs = z + (long long)sample * channels * positions;

    if (tid < ARGMIN_POSITIONS) {
        float sum = 0.0f;
        if (p0 + tid < positions) {
            for (int c = 0; c < channels; c++) {
                const float v = zs[(long long)c * positions + p0 + tid];
                sum = __fadd_rn(sum, __fmul_rn(v, v));
            }
        }
        latent_norm[tid] = sum;
    }
    __syncthreads();

    const int pg = tid & 15, eg = tid >> 4;
    float run_distance = __int_as_float(0x7f800000);
    int run_index = -1;
    const int total_tiles = (entries + ARGMIN_ENTRIES - 1) / ARGMIN_ENTRIES;
    const int tile_end = min(total_tiles, (split + 1) * tiles_per_split);
    for (int tile = split * tiles_per_split; tile < tile_end; tile++) {
        const int e0 = tile * ARGMIN_ENTRIES;
        float acc[2][4];
#pragma unroll
        for (int a = 0; a < 2; a++)
#pragma unroll
            for (int b = 0; b < 4; b++)
                acc[a][b] = 0.0f;
        for (int c0 = 0; c0 < channels; c0 += ARGMIN_CHANNELS) {
            __syncthreads();
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int e = tid + ARGMIN_THREADS * r, cc = e >> 5, pp = e & 31;
                const int c = c0 + cc, p = p0 + pp;
                z_tile[cc][pp] = c < channels && p < positions ? zs[(long long)c * positions + p] : 0.0f;
            }
#pragma unroll
            for (int r = 0; r < 8; r++) {
                const int e = tid + ARGMIN_THREADS * r, ee = e >> 5, cc = e & 31;
                const int entry = e0 + ee, c = c0 + cc;
                e_tile[cc][ee] = entry < entries && c < channels ? load_any(codebook, weight_bf16, (long long)entry * channels + c) : 0.0f;
            }
            __syncthreads();
#pragma unroll 8
            for (int cc = 0; cc < ARGMIN_CHANNELS; cc++) {
                const float z0 = z_tile[cc][2 * pg], z1 = z_tile[cc][2 * pg + 1];
#pragma unroll
                for (int b = 0; b < 4; b++) {
                    const float ev = e_tile[cc][4 * eg + b];
                    acc[0][b] += z0 * ev;
                    acc[1][b] += z1 * ev;
                }
            }
        }
#pragma unroll
        for (int a = 0; a < 2; a++) {
            float best = __int_as_float(0x7f800000);
            int index = -1;
#pragma unroll
            for (int b = 0; b < 4; b++) {
                const int entry = e0 + 4 * eg + b;
                if (entry < entries) {
                    const float d = __fsub_rn(__fadd_rn(latent_norm[2 * pg + a], norms[entry]), 2.0f * acc[a][b]);
                    if (d < best) {
                        best = d;
                        index = entry;
                    }
                }
            }
            candidate_distance[eg][2 * pg + a] = best;
            candidate_index[eg][2 * pg + a] = index;
        }
        __syncthreads();
        if (tid < ARGMIN_POSITIONS) {
            // Entry groups in ascending order with a strict comparison: the smallest index wins a tie.
            for (int g = 0; g < ARGMIN_ENTRIES / 4; g++) {
                if (candidate_distance[g][tid] < run_distance) {
                    run_distance = candidate_distance[g][tid];
                    run_index = candidate_index[g][tid];
                }
            }
        }
        __syncthreads();
    }
    if (tid < ARGMIN_POSITIONS && p0 + tid < positions) {
        const long long at = ((long long)sample * splits + split) * positions + p0 + tid;
        best_distance[at] = run_distance;
        best_index[at] = run_index;
    }
}

// codes[n, p] = the best of the splits' candidates, in split (ascending entry) order with a strict comparison; 0 when
// no distance was below +inf, as on the CPU. One thread per (n, p); count = N * P.
extern "C" __global__ void codebook_argmin_final(int* codes, const float* best_distance, const int* best_index, long long count,
                                                 int positions, int splits) {
    for (long long i = global_thread_index(); i < count; i += grid_thread_count()) {
        const long long sample = i / positions, p = i % positions;
        float best = __int_as_float(0x7f800000);
        int index = -1;
        for (int s = 0; s < splits; s++) {
            const long long at = (sample * splits + s) * positions + p;
            if (best_distance[at] < best) {
                best = best_distance[at];
                index = best_index[at];
            }
        }
        codes[i] = index < 0 ? 0 : index;
    }
}

// z[n, c, p] = codebook[codes[n, p], c]; count = N * C * P. A code outside [0, entries) gives NaN (the host checks
// the codes before launching, as the CPU does).
extern "C" __global__ void codebook_lookup_f32(float* z, const int* codes, const void* codebook, int weight_bf16, int entries, int channels,
                                               int positions, long long count) {
    for (long long i = global_thread_index(); i < count; i += grid_thread_count()) {
        const long long p = i % positions, c = (i / positions) % channels, sample = i / ((long long)positions * channels);
        const int code = codes[sample * positions + p];
        z[i] = code >= 0 && code < entries ? load_any(codebook, weight_bf16, (long long)code * channels + c) : quiet_nan();
    }
}
