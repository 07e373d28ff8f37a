using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// One device's memory and op set. Model code is written once against this interface; the CPU backend is the
/// reference every other backend is checked against. Shapes are row-major; "act" means the backend's
/// <see cref="ActivationType"/>. Every op validates shapes and dtypes and names the op and argument at fault.
/// Unless stated, an output may not alias an input.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>"cpu", or "cuda:0 NVIDIA H100 80GB HBM3" and the like.</summary>
    string Name { get; }

    BackendKind Kind { get; }

    /// <summary>The dtype the model should use for activations and the KV cache on this backend.</summary>
    DType ActivationType { get; }

    /// <summary>A new tensor that owns its memory; contents undefined.</summary>
    Tensor Allocate(DType dtype, ReadOnlySpan<int> shape, string? name = null);

    /// <summary>
    /// Makes a weight usable by the ops from host memory the caller keeps alive (e.g. a
    /// memory-mapped checkpoint). The CPU backend wraps BF16/F32 data without copying and converts other float types
    /// to F32; a GPU backend copies to device memory.
    /// </summary>
    Tensor LoadWeight(nint hostData, DType dtype, ReadOnlySpan<int> shape, string name);

    void Upload<T>(ReadOnlySpan<T> source, Tensor destination) where T : unmanaged;

    void Download<T>(Tensor source, Span<T> destination) where T : unmanaged;

    /// <summary>Copies a tensor's elements into another of the same dtype and element count.</summary>
    void Copy(Tensor source, Tensor destination);

    /// <summary>Waits for all queued work (no-op on the CPU).</summary>
    void Synchronize();

    /// <summary>Free and total bytes of the memory this backend allocates from (device memory, or host RAM).</summary>
    (long Free, long Total) MemoryInfo();

    /// <summary>The memory's theoretical peak bandwidth in bytes/s when the device reports it (null on the CPU).</summary>
    double? PeakBandwidthBytesPerSecond { get; }

    // ---- forward ops ----

    /// <summary>output[t, :] = table[ids[t], :]. table [V, D] (weight), ids [T] I32, output [T, D] act.</summary>
    void Embedding(Tensor table, Tensor ids, Tensor output);

    /// <summary>y = x W^T (+ y when accumulate). x [M, K] act, w [N, K] weight, y [M, N] act; fp32 accumulation.</summary>
    void MatMul(Tensor x, Tensor w, Tensor y, bool accumulate = false);

    /// <summary>y = w * x * rsqrt(mean(x^2) + eps) per row. x, y [T, D] act (y may alias x), w [D].</summary>
    void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y);

    /// <summary>
    /// Per-head LayerNorm over the head dimension: (x - mean) / sqrt(biased var + eps) * gamma[g] + beta[g] with
    /// g = head / (heads / G). x, y [T, H, Dh] act (y may alias x); gamma, beta [G, Dh], G divides H.
    /// </summary>
    void HeadLayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y);

    /// <summary>
    /// Rotary embedding, rotate-half layout: dims j and j + Dh/2 form a pair rotated by pos * theta^(-2j/Dh).
    /// x, y [T, H, Dh] act (y may alias x), positions [T] I32.
    /// </summary>
    void Rope(Tensor x, Tensor positions, float theta, Tensor y);

    /// <summary>Writes keys/values [T, Hkv, Dh] and the tokens' tags into the cache at (row, position) of each token.</summary>
    void KvStore(Tensor keys, Tensor values, TokenMap tokens, KvLayer cache);

    /// <summary>
    /// Attention of queries q [T, H, Dh] over their rows' cached keys and values (causal and identity-masked as
    /// <see cref="TokenMap"/> says), output [T, H, Dh] act. logSumExp [T, H] F32, if given, receives the natural
    /// log-sum-exp of each query's scaled scores (what a backward pass needs).
    /// </summary>
    void Attention(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor? logSumExp = null);

    /// <summary>output = silu(gate) * up, all [T, F] act.</summary>
    void SwiGlu(Tensor gate, Tensor up, Tensor output);

    /// <summary>y = a + b, same shapes, act (y may alias a or b).</summary>
    void Add(Tensor a, Tensor b, Tensor y);

    /// <summary>output[i, :] = x[indices[i], :]. x [T, D], indices [n] I32, output [n, D].</summary>
    void GatherRows(Tensor x, Tensor indices, Tensor output);

    // ---- sampling ops (one row per image; all [n, V] F32 logits) ----

    /// <summary>
    /// Classifier-free guidance, written cond + (scale - 1) * (cond - uncond) so that scale 1 gives cond exactly.
    /// cond, uncond, output [n, V] F32 (output may alias cond), scales [n] F32.
    /// </summary>
    void CfgCombine(Tensor cond, Tensor uncond, Tensor scales, Tensor output);

    /// <summary>
    /// Per row r with rules[r] = (forced, from, to): if forced &gt;= 0 every logit but forced's becomes -inf; otherwise
    /// every logit outside [from, to) does. logits [n, V] F32 in place, rules [n, 3] I32.
    /// </summary>
    void ConstrainLogits(Tensor logits, Tensor rules);

    /// <summary>
    /// Per row: keep the topK[r] largest logits (all values tied with the k-th are kept; k &lt;= 0 keeps all), divide by
    /// temperature[r], softmax, and draw one id with u = Philox.Uniform(seed, counter): the smallest id (in id
    /// order) whose cumulative probability exceeds u * total. logits [n, V] F32 (unchanged), topK [n] I32,
    /// temperature [n] F32, rngKeys [n, 4] I32 (seed low, seed high, counter low, counter high), output [n] I32.
    /// </summary>
    void SampleTopK(Tensor logits, Tensor topK, Tensor temperature, Tensor rngKeys, Tensor output);

    // ---- backward and training ops (input gradients, and the weight gradient of the GEMM for adapted projections;
    // all F32 on the CPU). "accumulate" adds into the destination instead of overwriting it.

    /// <summary>dx = dy W (+ dx when accumulate): the input gradient of MatMul. dy [M, N], w [N, K] (weight), dx [M, K].</summary>
    void MatMulInputGrad(Tensor dy, Tensor w, Tensor dx, bool accumulate = false);

    /// <summary>
    /// dW = dy^T x (+ dW when accumulate): the weight gradient of <see cref="MatMul"/>, summed over the M tokens in
    /// fp32. dy [M, N] and x [M, K] of one dtype (act, or F32), dW [N, K] F32 apart from both.
    /// </summary>
    void WeightGradient(Tensor dy, Tensor x, Tensor dw, bool accumulate = false);

    /// <summary>Input gradient of RmsNorm y = w * x * r, r = rsqrt(mean(x^2) + eps). x, dy, dx [T, D], w [D].</summary>
    void RmsNormBackward(Tensor x, Tensor weight, float eps, Tensor dy, Tensor dx, bool accumulate = false);

    /// <summary>
    /// Input gradient of <see cref="HeadLayerNorm"/> (x, dy, dx [T, H, Dh], gamma [G, Dh]; beta does not enter the input
    /// gradient).
    /// </summary>
    void HeadLayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx);

    /// <summary>Input gradient of <see cref="Rope"/>: the inverse rotation. dy, dx [T, H, Dh] (dx may alias dy), positions [T] I32.</summary>
    void RopeBackward(Tensor dy, Tensor positions, float theta, Tensor dx);

    /// <summary>
    /// Gradients of <see cref="Attention"/> w.r.t. q and the cached keys/values. q, output, dOutput, dq [T, H, Dh];
    /// logSumExp [T, H] F32 from the forward; dKeys, dValues have the cache's shape [R, Hkv, S, Dh] and are ACCUMULATED
    /// into (the caller zeroes them), since several queries (and with GQA several heads) reach the same key. Same
    /// identity/causal rule as the forward.
    /// </summary>
    void AttentionBackward(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dKeys, Tensor dValues);

    /// <summary>
    /// The backward of <see cref="KvStore"/>: dk[t] = dKeys[row[t], :, pos[t], :] (and dv likewise). dKeys, dValues
    /// [R, Hkv, S, Dh]; dk, dv [T, Hkv, Dh] (added into when accumulate).
    /// </summary>
    void KvGather(Tensor dKeys, Tensor dValues, TokenMap tokens, Tensor dk, Tensor dv, bool accumulate = false);

    /// <summary>Input gradients of SwiGlu out = silu(gate) * up. gate, up, dOut, dGate, dUp [T, F].</summary>
    void SwiGluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp);

    /// <summary>
    /// destination[indices[i], :] = source[i, :] (context-token injection: REPLACE rows). source [n, D], indices [n] I32
    /// (distinct), destination [T, D], same dtype.
    /// </summary>
    void ScatterRows(Tensor source, Tensor indices, Tensor destination);

    /// <summary>destination[indices[i], :] += source[i, :] (the backward of GatherRows; repeated indices add up). F32.</summary>
    void ScatterAddRows(Tensor source, Tensor indices, Tensor destination);

    /// <summary>destination[indices[i], :] = 0 (the gradient that would flow into an overwritten slot is discarded).</summary>
    void ZeroRows(Tensor indices, Tensor destination);

    /// <summary>Fills a tensor with zeros.</summary>
    void Zero(Tensor t);

    /// <summary>
    /// Per row r: loss[r] = logsumexp(logits[r]) - logits[r, targets[r]]; dLogits[r] = (softmax(logits[r]) - onehot) *
    /// gradScale + softmax(logits[r]) * 2 lse[r] * zLossScale (the gradient of zLossScale * lse^2, the z-loss). logits
    /// [n, V] F32, targets [n] I32, losses [n] F32, dLogits [n, V] F32 (may alias logits), logSumExp [n] F32 or null
    /// (receives lse[r]). A target of -1 ignores the row (loss 0, lse 0, gradient 0).
    /// </summary>
    void SoftmaxCrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, float gradScale,
        float zLossScale = 0f, Tensor? logSumExp = null);

    /// <summary>
    /// Per row r: loss[r] = KL(P || Q) = sum_v p (log p - log q) with p = softmax(reference[r]), q = softmax(logits[r]);
    /// dLogits[r] = (q - p) * gradScale (the gradient w.r.t. logits). reference, logits, dLogits [n, V] F32 (dLogits may
    /// alias logits, not reference), losses [n] F32.
    /// </summary>
    void KlDivergence(Tensor reference, Tensor logits, Tensor losses, Tensor dLogits, float gradScale);

    // ---- image tokenizer ops (VQGAN; activations NCHW, act; weights BF16 or F32) ----

    /// <summary>
    /// y = conv2d(x, weight) + bias with zero padding. x [N, Cin, H, W], weight [Cout, Cin, kh, kw], bias [Cout] or
    /// null, y [N, Cout, Ho, Wo] with Ho = (H + PadTop + PadBottom - kh) / Stride + 1 (likewise Wo). fp32 accumulation.
    /// </summary>
    void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dGeometry geometry, Tensor y);

    /// <summary>
    /// GroupNorm: statistics (mean, biased variance) per sample and group over (C/groups, H, W) in fp32, then
    /// (x - mean) / sqrt(var + eps) * gamma[c] + beta[c], then x * sigmoid(x) when <paramref name="swish"/>.
    /// x, y [N, C, H, W] (y may alias x), gamma, beta [C]; groups divides C.
    /// </summary>
    void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool swish, Tensor y);

    /// <summary>Nearest-neighbour x2 upsampling: x [N, C, H, W] -&gt; y [N, C, 2H, 2W].</summary>
    void Upsample2x(Tensor x, Tensor y);

    /// <summary>
    /// Single-head attention over the H*W positions of each sample:
    /// y[n, :, p] = sum_j softmax_j(q[n, :, p] . k[n, :, j] / sqrt(C)) v[n, :, j]. q, k, v, y [N, C, H, W].
    /// </summary>
    void SpatialAttention(Tensor q, Tensor k, Tensor v, Tensor y);

    /// <summary>
    /// codes[n, p] = argmin_e ||z[n, :, p] - codebook[e]||^2 (the smallest e on ties), p = h * W + w. The distance is
    /// formed in fp32 as (||z||^2 + ||e||^2) - 2 z.e, the reference's order, so entries whose exact distances differ by
    /// less than fp32 rounding may be ordered differently than in exact arithmetic.
    /// z [N, C, H, W] act, codebook [E, C] weight, codes [N, H*W] I32.
    /// </summary>
    void CodebookArgmin(Tensor z, Tensor codebook, Tensor codes);

    /// <summary>
    /// z[n, :, p] = codebook[codes[n, p]]. codes [N, H*W] I32, codebook [E, C] weight, z [N, C, H, W] act; a code
    /// outside [0, E) is an error naming it.
    /// </summary>
    void CodebookLookup(Tensor codes, Tensor codebook, Tensor z);
}
