// Training losses over fp32 logits rows [n, V], one block per row, with the CPU reference's numerics: softmaxes
// subtract the row maximum, exponentials in fp32, the sums over the vocabulary and the loss terms in fp64.
// dLogits may be the logits themselves (each element is read, then written, by one thread, after the row's statistics
// are complete). vec = 1 when V % 4 == 0 and every row pointer is 16-byte aligned, for float4 accesses.
#include "float_rows.cuh"

#define LOSS_THREADS 512

// Visits the row as float4 groups (or single elements), thread-strided: visit(index, value).
template <typename Visit>
__device__ __forceinline__ void for_each_in_row(const float* row, int v, int vec, Visit visit) {
    if (vec) {
        for (int c = threadIdx.x * 4; c < v; c += blockDim.x * 4) {
            const float4 q = *reinterpret_cast<const float4*>(row + c);
            visit(c, q.x);
            visit(c + 1, q.y);
            visit(c + 2, q.z);
            visit(c + 3, q.w);
        }
    } else {
        for (int c = threadIdx.x; c < v; c += blockDim.x)
            visit(c, row[c]);
    }
}

__device__ __forceinline__ float row_max(const float* row, int v, int vec, float* scratch) {
    float m = negative_infinity();
    for_each_in_row(row, v, vec, [&](int, float x) { m = fmaxf(m, x); });
    return block_max(m, scratch);
}

// loss = logsumexp(l) - l[target]; dLogits = (softmax(l) - onehot(target)) * grad_scale + softmax(l) * 2 lse z_loss_scale
// (the z-loss z_loss_scale * lse^2); log_sum_exp (may be null) receives lse. target -1 ignores the row (loss 0, lse 0,
// gradient 0). A target outside [-1, V) is the caller's contract (the CPU throws): the row's outputs become NaN.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
softmax_xent_f32(float* losses, float* log_sum_exp, float* d_logits, const float* logits, const int* targets, int v, float grad_scale,
                 float z_loss_scale, int vec) {
    __shared__ float float_scratch[32];
    __shared__ double double_scratch[32];
    const long long r = blockIdx.x;
    const float* l = logits + r * v;
    float* d = d_logits + r * v;
    const int target = targets[r];
    if (target < 0 || target >= v) {
        const float fill = target == -1 ? 0.0f : quiet_nan();
        for (int c = threadIdx.x; c < v; c += blockDim.x)
            d[c] = fill;
        if (threadIdx.x == 0) {
            losses[r] = fill;
            if (log_sum_exp)
                log_sum_exp[r] = fill;
        }
        return;
    }
    // Read before any thread writes d, which may be l: the reductions below synchronize the block.
    const float picked = l[target];
    const float m = row_max(l, v, vec, float_scratch);
    double sum = 0.0;
    for_each_in_row(l, v, vec, [&](int, float x) { sum += (double)expf(x - m); });
    sum = block_sum(sum, double_scratch);
    const double lse = (double)m + log(sum);
    if (threadIdx.x == 0) {
        losses[r] = (float)(lse - (double)picked);
        if (log_sum_exp)
            log_sum_exp[r] = (float)lse;
    }
    const float scale = (float)((grad_scale + 2.0 * z_loss_scale * lse) / sum);
    if (vec) {
        for (int c = threadIdx.x * 4; c < v; c += blockDim.x * 4) {
            const float4 q = *reinterpret_cast<const float4*>(l + c);
            float4 g = make_float4(expf(q.x - m) * scale, expf(q.y - m) * scale, expf(q.z - m) * scale, expf(q.w - m) * scale);
            if (target == c) g.x -= grad_scale;
            if (target == c + 1) g.y -= grad_scale;
            if (target == c + 2) g.z -= grad_scale;
            if (target == c + 3) g.w -= grad_scale;
            *reinterpret_cast<float4*>(d + c) = g;
        }
    } else {
        for (int c = threadIdx.x; c < v; c += blockDim.x) {
            const float g = expf(l[c] - m) * scale;
            d[c] = c == target ? g - grad_scale : g;
        }
    }
}

// loss = KL(P || Q) = sum p (log p - log q), p = softmax(reference), q = softmax(logits), formed as
// sum(p (ref - l)) / sum(p) + (max_l - max_ref + log sum(q) - log sum(p)) over unnormalized p and q, skipping p = 0
// terms (masked reference logits). dLogits = (q - p) * grad_scale. dLogits may be logits, not reference.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
kl_div_f32(float* losses, float* d_logits, const float* reference, const float* logits, int v, float grad_scale, int vec) {
    __shared__ float float_scratch[32];
    __shared__ double double_scratch[32];
    const long long r = blockIdx.x;
    const float* ref = reference + r * v;
    const float* l = logits + r * v;
    float* d = d_logits + r * v;
    const float max_ref = row_max(ref, v, vec, float_scratch);
    const float max_l = row_max(l, v, vec, float_scratch);
    double sum_p = 0.0, sum_q = 0.0, weighted = 0.0;
    if (vec) {
        for (int c = threadIdx.x * 4; c < v; c += blockDim.x * 4) {
            const float4 a = *reinterpret_cast<const float4*>(ref + c);
            const float4 b = *reinterpret_cast<const float4*>(l + c);
            const float ra[4] = {a.x, a.y, a.z, a.w}, lb[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const float p = expf(ra[k] - max_ref);
                sum_p += p;
                sum_q += expf(lb[k] - max_l);
                if (p != 0.0f)
                    weighted += p * ((double)ra[k] - lb[k]);
            }
        }
    } else {
        for (int c = threadIdx.x; c < v; c += blockDim.x) {
            const float p = expf(ref[c] - max_ref);
            sum_p += p;
            sum_q += expf(l[c] - max_l);
            if (p != 0.0f)
                weighted += p * ((double)ref[c] - l[c]);
        }
    }
    sum_p = block_sum(sum_p, double_scratch);
    sum_q = block_sum(sum_q, double_scratch);
    weighted = block_sum(weighted, double_scratch);
    if (threadIdx.x == 0) {
        const double shift = (double)max_l - max_ref + log(sum_q) - log(sum_p);
        losses[r] = (float)(weighted / sum_p + shift);
    }
    const float scale_q = (float)(grad_scale / sum_q), scale_p = (float)(-grad_scale / sum_p);
    if (vec) {
        for (int c = threadIdx.x * 4; c < v; c += blockDim.x * 4) {
            const float4 a = *reinterpret_cast<const float4*>(ref + c);
            const float4 b = *reinterpret_cast<const float4*>(l + c);
            float4 g;
            g.x = expf(a.x - max_ref) * scale_p + expf(b.x - max_l) * scale_q;
            g.y = expf(a.y - max_ref) * scale_p + expf(b.y - max_l) * scale_q;
            g.z = expf(a.z - max_ref) * scale_p + expf(b.z - max_l) * scale_q;
            g.w = expf(a.w - max_ref) * scale_p + expf(b.w - max_l) * scale_q;
            *reinterpret_cast<float4*>(d + c) = g;
        }
    } else {
        for (int c = threadIdx.x; c < v; c += blockDim.x)
            d[c] = expf(ref[c] - max_ref) * scale_p + expf(l[c] - max_l) * scale_q;
    }
}
