using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>The KV cache and attention ops: queries, keys and values against the token map and the cache.</summary>
public static partial class OpShapes
{
    /// <summary>keys and values [T, Hkv, Dh], the token map of length T, a cache of Hkv heads of Dh.</summary>
    public static (int T, int KvHeads, int Dh) KvStore(string op, Tensor keys, Tensor values, TokenMap tokens, KvLayer cache)
    {
        OpCheck.Rank(op, "keys", keys, 3);
        int t = keys.Dim(0), kvHeads = keys.Dim(1), dh = keys.Dim(2);
        OpCheck.SameShape(op, "keys", keys, "values", values);
        OpCheck.Tokens(op, tokens, t);
        OpCheck.Cache(op, cache, kvHeads, dh);
        return (t, kvHeads, dh);
    }

    /// <summary>The attention inputs (see <see cref="AttentionInputs"/>), output like q and apart from it, logSumExp [T, H].</summary>
    public static (int T, int Heads, int Dh, int KvHeads) Attention(string op, Tensor q, KvLayer cache, TokenMap tokens, Tensor output,
        Tensor? logSumExp)
    {
        var sizes = AttentionInputs(op, q, cache, tokens);
        OpCheck.SameShape(op, "q", q, "output", output);
        OpCheck.NoAlias(op, "q", q, "output", output);
        if (logSumExp is not null) OpCheck.Shape(op, "logSumExp", logSumExp, sizes.T, sizes.Heads);
        return sizes;
    }

    /// <summary>
    /// The attention inputs; output, dOutput and dq like q, logSumExp [T, H], dKeys and dValues like the cache's keys;
    /// dq apart from q, output and dOutput; dKeys and dValues apart from the cache and from each other.
    /// </summary>
    public static (int T, int Heads, int Dh, int KvHeads) AttentionBackward(string op, Tensor q, KvLayer cache, TokenMap tokens,
        Tensor output, Tensor logSumExp, Tensor dOutput, Tensor dq, Tensor dKeys, Tensor dValues)
    {
        var sizes = AttentionInputs(op, q, cache, tokens);
        OpCheck.SameShape(op, "q", q, "output", output);
        OpCheck.SameShape(op, "q", q, "dOutput", dOutput);
        OpCheck.SameShape(op, "q", q, "dq", dq);
        OpCheck.Shape(op, "logSumExp", logSumExp, sizes.T, sizes.Heads);
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
        return sizes;
    }

    /// <summary>
    /// dk and dv [T, Hkv, Dh], the token map of length T, dKeys and dValues [R, Hkv, S, Dh] (a cache's shape); the four
    /// all apart.
    /// </summary>
    public static (int T, int KvHeads, int Dh) KvGather(string op, Tensor dKeys, Tensor dValues, TokenMap tokens, Tensor dk, Tensor dv)
    {
        OpCheck.Rank(op, "dk", dk, 3);
        int t = dk.Dim(0), kvHeads = dk.Dim(1), dh = dk.Dim(2);
        OpCheck.SameShape(op, "dk", dk, "dv", dv);
        OpCheck.Tokens(op, tokens, t);
        OpCheck.Shape(op, "dKeys", dKeys, -1, kvHeads, -1, dh);
        OpCheck.SameShape(op, "dKeys", dKeys, "dValues", dValues);
        OpCheck.NoAlias(op, "dk", dk, "dv", dv);
        OpCheck.NoAlias(op, "dKeys", dKeys, "dk", dk);
        OpCheck.NoAlias(op, "dKeys", dKeys, "dv", dv);
        OpCheck.NoAlias(op, "dValues", dValues, "dk", dk);
        OpCheck.NoAlias(op, "dValues", dValues, "dv", dv);
        return (t, kvHeads, dh);
    }

    /// <summary>q [T, H, Dh], the token map of length T, a cache of Hkv heads of Dh with Hkv dividing H.</summary>
    private static (int T, int Heads, int Dh, int KvHeads) AttentionInputs(string op, Tensor q, KvLayer cache, TokenMap tokens)
    {
        OpCheck.Rank(op, "q", q, 3);
        int t = q.Dim(0), heads = q.Dim(1), dh = q.Dim(2);
        OpCheck.Tokens(op, tokens, t);
        OpCheck.Rank(op, "cache.Keys", cache.Keys, 4);
        int kvHeads = cache.KvHeads;
        OpCheck.Cache(op, cache, kvHeads, dh);
        if (kvHeads == 0 || heads % kvHeads != 0)
            throw new ArgumentException($"{op}: {kvHeads} KV heads do not divide {heads} query heads");
        return (t, heads, dh, kvHeads);
    }
}
