// Sampling over fp32 logits rows [n, V]: classifier-free guidance, the image-layout constraint, and the top-k draw,
// each reproducing the CPU reference (TopKSampler, Philox) so a seeded image is the same on every backend up to the
// rounding of the logits themselves. vec = 1 when V % 4 == 0 and the rows are 16-byte aligned, for float4 accesses.
#include "float_rows.cuh"

// out = cond + (scale - 1) * (cond - uncond), scale 1 giving cond exactly. The product is rounded on its own
// (__fmul_rn is never fused into an FMA), as C# computes it, so the result is the CPU's bit for bit.
// grid (ceil(V / (blockDim * (vec ? 4 : 1))), n); out may be cond.
extern "C" __global__ void cfg_combine_f32(float* out, const float* cond, const float* uncond, const float* scales, int v, int vec) {
    const long long base = (long long)blockIdx.y * v;
    const float g = scales[blockIdx.y] - 1.0f;
    if (vec) {
        const int c = (blockIdx.x * blockDim.x + threadIdx.x) * 4;
        if (c >= v)
            return;
        const float4 a = *reinterpret_cast<const float4*>(cond + base + c);
        const float4 b = *reinterpret_cast<const float4*>(uncond + base + c);
        *reinterpret_cast<float4*>(out + base + c) = make_float4(a.x + __fmul_rn(g, a.x - b.x), a.y + __fmul_rn(g, a.y - b.y),
                                                                 a.z + __fmul_rn(g, a.z - b.z), a.w + __fmul_rn(g, a.w - b.w));
    } else {
        const int c = blockIdx.x * blockDim.x + threadIdx.x;
        if (c < v)
            out[base + c] = cond[base + c] + __fmul_rn(g, cond[base + c] - uncond[base + c]);
    }
}

// Row r with rules[r] = (forced, from, to): forced >= 0 keeps only logit `forced` (0 if it was -inf); otherwise only
// [from, to) survive; the rest become -inf. A rule the CPU would reject (forced >= V, or an empty or out-of-range
// window) is the caller's contract: it masks the whole row, so the draw of that row reports -1.
// grid (ceil(V / (blockDim * (vec ? 4 : 1))), n); every element is read and written by one thread.
__device__ __forceinline__ float constrained(float x, int i, int forced, int from, int to, bool reject) {
    const bool keep = !reject && (forced >= 0 ? i == forced : i >= from && i < to);
    if (!keep)
        return negative_infinity();
    return forced >= 0 && x == negative_infinity() ? 0.0f : x;
}

extern "C" __global__ void constrain_logits_f32(float* logits, const int* rules, int v, int vec) {
    const long long base = (long long)blockIdx.y * v;
    const int forced = rules[3 * blockIdx.y], from = rules[3 * blockIdx.y + 1], to = rules[3 * blockIdx.y + 2];
    const bool reject = forced >= v || (forced < 0 && (from < 0 || to > v || from >= to));
    if (vec) {
        const int c = (blockIdx.x * blockDim.x + threadIdx.x) * 4;
        if (c >= v)
            return;
        float4 q = *reinterpret_cast<const float4*>(logits + base + c);
        q.x = constrained(q.x, c, forced, from, to, reject);
        q.y = constrained(q.y, c + 1, forced, from, to, reject);
        q.z = constrained(q.z, c + 2, forced, from, to, reject);
        q.w = constrained(q.w, c + 3, forced, from, to, reject);
        *reinterpret_cast<float4*>(logits + base + c) = q;
    } else {
        const int c = blockIdx.x * blockDim.x + threadIdx.x;
        if (c < v)
            logits[base + c] = constrained(logits[base + c], c, forced, from, to, reject);
    }
}

// ---- top-k draw ------------------------------------------------------------------------------------------------
#define SAMPLE_THREADS 512

// Philox4x32-10's first output word for key (key0, key1) and counter (c0, c1, 0, 0): Managed/Backends/Philox.cs.
__device__ __forceinline__ unsigned int philox_first_word(unsigned int key0, unsigned int key1, unsigned int c0, unsigned int c1) {
    unsigned int c2 = 0u, c3 = 0u;
#pragma unroll
    for (int round = 0; round < 10; round++) {
        const unsigned int hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        const unsigned int hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        const unsigned int n0 = hi1 ^ c1 ^ key0, n2 = hi0 ^ c3 ^ key1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
    }
    return c0;
}

// Float bits mapped to unsigned keys in the order of the values; NaN below everything (TopKSampler treats NaN as
// smaller than any number), -0 just below +0 (the draw compares values, so that split never matters).
__device__ __forceinline__ unsigned int order_key(float x) {
    const unsigned int bits = __float_as_uint(x);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return 0u;
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

__device__ __forceinline__ float key_value(unsigned int key) {
    return __uint_as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key);
}

// Elements [c, c + 4) of the row; in[k] is false past its end.
__device__ __forceinline__ void load4(const float* row, int v, int vec, int c, float (&x)[4], bool (&in)[4]) {
    if (vec && c < v) {
        const float4 q = *reinterpret_cast<const float4*>(row + c);
        x[0] = q.x; x[1] = q.y; x[2] = q.z; x[3] = q.w;
#pragma unroll
        for (int k = 0; k < 4; k++)
            in[k] = true;
    } else {
#pragma unroll
        for (int k = 0; k < 4; k++) {
            in[k] = c + k < v;
            x[k] = in[k] ? row[c + k] : 0.0f;
        }
    }
}

// Counts a digit in the shared histogram with one atomic per distinct digit per warp (logits crowd into a few
// exponent bins, where per-thread atomics would serialize). The whole warp must call it together; a warp with no
// candidate (most of them after the first pass) leaves at the ballot.
__device__ __forceinline__ void histogram_add(unsigned int* hist, bool active, unsigned int digit) {
    if (__ballot_sync(0xffffffffu, active) == 0u)
        return;
    const unsigned int peers = __match_any_sync(0xffffffffu, active ? digit : 0xffffffffu);
    if (active && (int)(threadIdx.x & 31) == __ffs(peers) - 1)
        atomicAdd(&hist[digit], (unsigned int)__popc(peers));
}

// Inclusive prefix sum over the lanes of a full warp, in lane order.
template <typename T> __device__ __forceinline__ T warp_inclusive_sum(T value) {
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
        const T below = __shfl_up_sync(0xffffffffu, value, offset);
        if (lane >= offset)
            value += below;
    }
    return value;
}

// Warp 0: the digit (bin) that holds the remaining-th largest candidate, scanning bins from 255 down; writes it and
// the number of candidates in higher bins to selected[0], selected[1]. Lane L owns bins 255 - 8L down to 248 - 8L.
__device__ __forceinline__ void select_digit(const unsigned int* hist, unsigned int remaining, unsigned int* selected) {
    const int lane = threadIdx.x & 31;
    unsigned int counts[8], own = 0u;
#pragma unroll
    for (int b = 0; b < 8; b++) {
        counts[b] = hist[255 - 8 * lane - b];
        own += counts[b];
    }
    const unsigned int inclusive = warp_inclusive_sum(own);
    const unsigned int hits = __ballot_sync(0xffffffffu, inclusive >= remaining);
    if (lane == __ffs(hits) - 1) {
        unsigned int above = inclusive - own;
#pragma unroll
        for (int b = 0; b < 8; b++) {
            if (above + counts[b] >= remaining) {
                selected[0] = 255u - 8u * lane - b;
                selected[1] = above;
                break;
            }
            above += counts[b];
        }
    }
}

// The key of the k-th largest value of the row (1 <= k < V, counted with multiplicity, as a descending sort would
// place it): radix select on 8-bit digits from the top, each pass histogramming the candidates that share the
// digits chosen so far.
__device__ unsigned int kth_largest_key(const float* row, int v, int vec, int k, unsigned int* hist, unsigned int* selected) {
    unsigned int prefix = 0u, mask = 0u, remaining = (unsigned int)k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x)
            hist[i] = 0u;
        __syncthreads();
        for (int base = 0; base < v; base += blockDim.x * 4) {
            float x[4];
            bool in[4];
            load4(row, v, vec, base + threadIdx.x * 4, x, in);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const unsigned int key = order_key(x[e]);
                histogram_add(hist, in[e] && (key & mask) == prefix, (key >> shift) & 255u);
            }
        }
        __syncthreads();
        if (threadIdx.x < 32)
            select_digit(hist, remaining, selected);
        __syncthreads();
        prefix |= selected[0] << shift;
        mask |= 255u << shift;
        remaining -= selected[1];
    }
    return prefix;
}

// Exclusive prefix sum over the block in thread order; total receives the sum of all values.
__device__ __forceinline__ double block_exclusive_sum(double value, double* scratch, double& total) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    const double inclusive = warp_inclusive_sum(value);
    double exclusive = __shfl_up_sync(0xffffffffu, inclusive, 1);
    if (lane == 0)
        exclusive = 0.0;
    __syncthreads();
    if (lane == 31)
        scratch[warp] = inclusive;
    __syncthreads();
    const double warp_inclusive = warp_inclusive_sum(lane < warps ? scratch[lane] : 0.0);
    double warp_exclusive = __shfl_up_sync(0xffffffffu, warp_inclusive, 1);
    if (lane == 0)
        warp_exclusive = 0.0;
    total = __shfl_sync(0xffffffffu, warp_inclusive, 31);
    return __shfl_sync(0xffffffffu, warp_exclusive, warp) + exclusive;
}

// TopKSampler's weight: exp((x - max) / T) for kept ids (x >= the k-th largest, not -inf; never NaN), else 0. The
// exponential in fp64 rounded to fp32 agrees with the C runtime's expf in all but the rarest last-bit cases.
__device__ __forceinline__ float draw_weight(float x, float threshold, float max, float temperature) {
    return x >= threshold && x != negative_infinity() ? (float)exp((double)((x - max) / temperature)) : 0.0f;
}

// One block per row. out[r] = the smallest id, in id order, whose cumulative weight exceeds u * total with u from
// Philox(seed, counter); -1 where the CPU would throw (temperature not a positive finite number, every logit -inf or
// NaN) or finds nothing (no kept id has a nonzero weight). Each thread owns a contiguous run of ids, so an exclusive
// scan of the runs' sums gives every run its starting cumulative weight; the runs then walk their ids in order, and
// the smallest crossing id wins (a run whose start already exceeds the target offers its first weighted id, which
// only wins if rounding kept every earlier run from crossing).
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS)
sample_topk_f32(int* out, const float* logits, const int* top_k, const float* temperature, const int* rng_keys, int v, int vec) {
    __shared__ unsigned int hist[256];
    __shared__ unsigned int selected[2];
    __shared__ float float_scratch[32];
    __shared__ double double_scratch[32];
    __shared__ int found, last_weighted;
    const int r = blockIdx.x;
    const float* row = logits + (long long)r * v;
    const float temp = temperature[r];
    if (!(temp > 0.0f) || isinf(temp)) {
        if (threadIdx.x == 0)
            out[r] = -1;
        return;
    }
    if (threadIdx.x == 0) {
        found = 0x7fffffff;
        last_weighted = -1;
    }

    float m = negative_infinity();
    for (int base = 0; base < v; base += blockDim.x * 4) {
        float x[4];
        bool in[4];
        load4(row, v, vec, base + threadIdx.x * 4, x, in);
#pragma unroll
        for (int e = 0; e < 4; e++)
            if (in[e])
                m = fmaxf(m, x[e]);
    }
    m = block_max(m, float_scratch);
    if (m == negative_infinity()) {
        if (threadIdx.x == 0)
            out[r] = -1;
        return;
    }
    const int k = top_k[r];
    const float threshold = k <= 0 || k >= v ? negative_infinity() : key_value(kth_largest_key(row, v, vec, k, hist, selected));

    const int run = (v + blockDim.x - 1) / blockDim.x;
    const int lo = min(v, (int)threadIdx.x * run), hi = min(v, lo + run);
    double own = 0.0;
    int last = -1;
    for (int i = lo; i < hi; i++) {
        const float w = draw_weight(row[i], threshold, m, temp);
        if (w != 0.0f) {
            own += w;
            last = i;
        }
    }
    double total;
    const double start = block_exclusive_sum(own, double_scratch, total);
    const unsigned int word = philox_first_word((unsigned int)rng_keys[4 * r], (unsigned int)rng_keys[4 * r + 1],
                                                (unsigned int)rng_keys[4 * r + 2], (unsigned int)rng_keys[4 * r + 3]);
    const double target = (double)((float)(word >> 8) * (1.0f / 16777216.0f)) * total;
    // last >= 0, not own > 0: a +inf logit's weight is NaN (inf - inf), and the CPU then takes the last weighted id.
    if (last >= 0) {
        double cumulative = start;
        for (int i = lo; i < hi; i++) {
            const float w = draw_weight(row[i], threshold, m, temp);
            if (w == 0.0f)
                continue;
            cumulative += w;
            if (cumulative > target) {
                atomicMin(&found, i);
                break;
            }
        }
        atomicMax(&last_weighted, last);
    }
    __syncthreads();
    if (threadIdx.x == 0)
        out[r] = found != 0x7fffffff ? found : last_weighted;
}
