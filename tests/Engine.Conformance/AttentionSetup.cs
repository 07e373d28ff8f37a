using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>Builds the cache, token map and queries an <see cref="AttentionShape"/> describes.</summary>
public sealed record AttentionSetup(KvLayer Cache, TokenMap Tokens, Tensor Q, int Count)
{
    public static AttentionSetup Create(CaseContext c, Random r, AttentionShape s)
    {
        int rows = s.Contexts.Length, hkv = s.KvHeads, dh = s.HeadDim;
        int capacity = s.Contexts.Zip(s.NewTokens, (ctx, n) => ctx + n).Max() + 3;
        var cache = new KvLayer(c.Scratch(c.Activation, rows, hkv, capacity, dh), c.Scratch(c.Activation, rows, hkv, capacity, dh),
            c.Scratch(DType.I32, rows, capacity));
        int Tag() => s.Tagged ? r.Next(3) : 0;

        var (contextRows, contextPositions) = Packed(s.Contexts);
        if (contextRows.Length > 0)
            Store(c, r, cache, new TokenMap(c.Ints(contextRows), c.Ints(contextPositions), c.Ints(contextRows.Select(_ => Tag()).ToArray())));

        var order = new List<(int Row, int Position)>();
        if (s.Interleave)
        {
            for (int i = 0; i < s.NewTokens.Max(); i++)
                for (int row = 0; row < rows; row++)
                    if (i < s.NewTokens[row]) order.Add((row, s.Contexts[row] + i));
        }
        else
        {
            for (int row = 0; row < rows; row++)
                for (int i = 0; i < s.NewTokens[row]; i++) order.Add((row, s.Contexts[row] + i));
        }
        int t = order.Count;
        var tokens = new TokenMap(c.Ints(order.Select(o => o.Row).ToArray()), c.Ints(order.Select(o => o.Position).ToArray()),
            c.Ints(order.Select(_ => Tag()).ToArray()));
        Store(c, r, cache, tokens);
        var q = c.Act(Uniform(r, (long)t * s.Heads * dh, 2f), t, s.Heads, dh);
        return new AttentionSetup(cache, tokens, q, t);
    }

    private static void Store(CaseContext c, Random r, KvLayer cache, TokenMap tokens)
    {
        int t = tokens.Count, hkv = cache.KvHeads, dh = cache.HeadDim;
        c.Backend.KvStore(c.Act(Uniform(r, (long)t * hkv * dh), t, hkv, dh), c.Act(Uniform(r, (long)t * hkv * dh), t, hkv, dh), tokens, cache);
    }
}
