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
    /// Makes a weight usable by the ops from host memory the caller keeps alive (<paramref name="keepAlive"/>, e.g. a
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
}
