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
        CheckAttention(op, q, cache, tokens);
        CheckSameType(op, "output", output, q);
        OpCheck.SameShape(op, "q", q, "output", output);
        OpCheck.NoAlias(op, "q", q, "output", output);
        if (logSumExp is not null)
        {
            CheckF32(op, "logSumExp", logSumExp);
            OpCheck.Shape(op, "logSumExp", logSumExp, q.Dim(0), q.Dim(1));
        }
        CudaAttention.Forward(_kernels, _stream, q, cache, tokens, scale, output, logSumExp);
    }

    public void AttentionBackward(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dKeys, Tensor dValues)
    {
        const string op = "AttentionBackward";
        CheckAttention(op, q, cache, tokens);
        CheckFloat(op, "output", output);
        CheckFloat(op, "dOutput", dOutput);
        CheckFloat(op, "dq", dq);
        CheckFloat(op, "dKeys", dKeys);
        CheckSameType(op, "dValues", dValues, dKeys);
        CheckF32(op, "logSumExp", logSumExp);
        OpCheck.SameShape(op, "q", q, "output", output);
        OpCheck.SameShape(op, "q", q, "dOutput", dOutput);
        OpCheck.SameShape(op, "q", q, "dq", dq);
        OpCheck.Shape(op, "logSumExp", logSumExp, q.Dim(0), q.Dim(1));
        OpCheck.SameShape(op, "cache.Keys", cache.Keys, "dKeys", dKeys);
        OpCheck.SameShape(op, "cache.Keys", cache.Keys, "dValues", dValues);
        OpCheck.NoAlias(op, "q", q, "dq", dq);
        OpCheck.NoAlias(op, "output", output, "dq", dq);
        OpCheck.NoAlias(op, "dOutput", dOutput, "dq", dq);
        OpCheck.NoAlias(op, "cache.Keys", cache.Keys, "dKeys", dKeys);
        OpCheck.NoAlias(op, "cache.Values", cache.Values, "dKeys", dKeys);
        OpCheck.NoAlias(op, "dValues", dValues, "dKeys", dKeys);
        OpCheck.NoAlias(op, "cache.Keys", cache.Keys, "dValues", dValues);
        OpCheck.NoAlias(op, "cache.Values", cache.Values, "dValues", dValues);
        CudaAttention.Backward(_kernels, _stream, q, cache, tokens, scale, output, logSumExp, dOutput, dq, dKeys, dValues);
    }

    /// <summary>q [T, H, Dh] and the cache of one float dtype, the token map of length T, KV heads dividing H.</summary>
    private void CheckAttention(string op, Tensor q, KvLayer cache, TokenMap tokens)
    {
        CheckFloat(op, "q", q);
        CheckSameType(op, "cache.Keys", cache.Keys, q);
        CheckSameType(op, "cache.Values", cache.Values, q);
        OpCheck.Backend(this, op, "cache.KeyTags", cache.KeyTags);
        CheckTokensBackend(op, tokens);
        OpCheck.Rank(op, "q", q, 3);
        int t = q.Dim(0), heads = q.Dim(1), dh = q.Dim(2);
        OpCheck.Tokens(op, tokens, t);
        OpCheck.Rank(op, "cache.Keys", cache.Keys, 4);
        int kvHeads = cache.KvHeads;
        OpCheck.Cache(op, cache, kvHeads, dh);
        if (kvHeads == 0 || heads % kvHeads != 0)
            throw new ArgumentException($"{op}: {kvHeads} KV heads do not divide {heads} query heads");
    }
}
