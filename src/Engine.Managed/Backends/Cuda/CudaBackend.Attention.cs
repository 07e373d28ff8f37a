using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Attention over the KV cache: argument checks here, the kernels in <see cref="CudaAttention"/>. The token map's
/// values (each token's slot inside the cache) are device data and the caller's contract.
/// </summary>
public sealed partial class CudaBackend
{
    public void Attention(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor? logSumExp = null)
    {
        const string op = "Attention";
        CheckAttentionTypes(op, q, cache, tokens);
        CheckSameType(op, "output", output, q);
        if (logSumExp is not null) CheckF32(op, "logSumExp", logSumExp);
        OpShapes.Attention(op, q, cache, tokens, output, logSumExp);
        CudaAttention.Forward(_kernels, _stream, q, cache, tokens, scale, output, logSumExp);
    }

    public void AttentionBackward(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dKeys, Tensor dValues)
    {
        const string op = "AttentionBackward";
        CheckAttentionTypes(op, q, cache, tokens);
        CheckFloat(op, "output", output);
        CheckFloat(op, "dOutput", dOutput);
        CheckFloat(op, "dq", dq);
        CheckFloat(op, "dKeys", dKeys);
        CheckSameType(op, "dValues", dValues, dKeys);
        CheckF32(op, "logSumExp", logSumExp);
        OpShapes.AttentionBackward(op, q, cache, tokens, output, logSumExp, dOutput, dq, dKeys, dValues);
        CudaAttention.Backward(_kernels, _stream, q, cache, tokens, scale, output, logSumExp, dOutput, dq, dKeys, dValues);
    }

    /// <summary>q and the cache of one float dtype, the cache's tags and the token map on this backend (shapes: <see cref="OpShapes"/>).</summary>
    private void CheckAttentionTypes(string op, Tensor q, KvLayer cache, TokenMap tokens)
    {
        CheckFloat(op, "q", q);
        CheckSameType(op, "cache.Keys", cache.Keys, q);
        CheckSameType(op, "cache.Values", cache.Values, q);
        OpCheck.Backend(this, op, "cache.KeyTags", cache.KeyTags);
        CheckTokensBackend(op, tokens);
    }
}
