using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// Argument checks shared by every backend, so that a bad call fails the same way everywhere. The lists are
/// <c>params ReadOnlySpan</c> so that a passing check allocates nothing (ops run on a kernel launch path); only a
/// failure builds its message.
/// </summary>
public static class OpCheck
{
    public static void Backend(IBackend backend, string op, string arg, Tensor t)
    {
        if (!ReferenceEquals(t.Backend, backend))
            throw new ArgumentException($"{op}: argument '{arg}' ({t.Describe()}) lives on backend {t.Backend.Name}, not {backend.Name}");
    }

    public static void DType(string op, string arg, Tensor t, params ReadOnlySpan<DType> allowed)
    {
        foreach (var dtype in allowed)
            if (dtype == t.DType)
                return;
        throw new ArgumentException($"{op}: argument '{arg}' ({t.Describe()}) has dtype {t.DType}, expected {string.Join(" or ", allowed.ToArray())}");
    }

    public static void Rank(string op, string arg, Tensor t, int rank)
    {
        if (t.Rank != rank)
            throw new ArgumentException($"{op}: argument '{arg}' ({t.Describe()}) has rank {t.Rank}, expected {rank}");
    }

    /// <summary>Checks every dimension; -1 in <paramref name="expected"/> means any size.</summary>
    public static void Shape(string op, string arg, Tensor t, params ReadOnlySpan<int> expected)
    {
        bool ok = t.Rank == expected.Length;
        for (int i = 0; ok && i < expected.Length; i++)
            ok = expected[i] < 0 || expected[i] == t.Dim(i);
        if (!ok)
            throw new ArgumentException(
                $"{op}: argument '{arg}' has shape [{string.Join(", ", t.Shape.ToArray())}], expected [{string.Join(", ", expected.ToArray().Select(d => d < 0 ? "*" : d.ToString()))}]");
    }

    public static void SameShape(string op, string argA, Tensor a, string argB, Tensor b)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
            throw new ArgumentException(
                $"{op}: '{argA}' [{string.Join(", ", a.Shape.ToArray())}] and '{argB}' [{string.Join(", ", b.Shape.ToArray())}] must have the same shape");
    }

    public static void NoAlias(string op, string argA, Tensor a, string argB, Tensor b)
    {
        long aEnd = a.Address + a.ByteLength, bEnd = b.Address + b.ByteLength;
        if (a.ByteLength > 0 && b.ByteLength > 0 && a.Address < bEnd && b.Address < aEnd)
            throw new ArgumentException($"{op}: '{argA}' and '{argB}' overlap in memory; this op does not work in place");
    }

    /// <summary>Checks the shared token map: three I32 vectors of the same length.</summary>
    public static void Tokens(string op, TokenMap tokens, int count)
    {
        Shape(op, "tokens.Rows", tokens.Rows, count);
        Shape(op, "tokens.Positions", tokens.Positions, count);
        Shape(op, "tokens.Tags", tokens.Tags, count);
        DType(op, "tokens.Rows", tokens.Rows, Tensors.DType.I32);
        DType(op, "tokens.Positions", tokens.Positions, Tensors.DType.I32);
        DType(op, "tokens.Tags", tokens.Tags, Tensors.DType.I32);
    }

    public static void Cache(string op, KvLayer cache, int kvHeads, int headDim)
    {
        Shape(op, "cache.Keys", cache.Keys, -1, kvHeads, -1, headDim);
        SameShape(op, "cache.Keys", cache.Keys, "cache.Values", cache.Values);
        Shape(op, "cache.KeyTags", cache.KeyTags, cache.Rows, cache.Capacity);
        DType(op, "cache.KeyTags", cache.KeyTags, Tensors.DType.I32);
    }
}
