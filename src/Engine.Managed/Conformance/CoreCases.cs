using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Managed.Conformance;

/// <summary>
/// Conformance cases of the core inference ops (GEMM, attention prefill and decode, RMSNorm, embedding, guidance and
/// sampling) at a given shape. They live in the engine because the device self-test runs a few of them on every GPU
/// before `--device auto` trusts it; the full suite (tests/Engine.Conformance) runs the same cases at more shapes.
/// </summary>
public static class CoreCases
{
    /// <summary>y = x W^T with BF16 weights: the GEMV path for M &lt;= 8, the tensor-core path above.</summary>
    public static OpCase MatMul(int m, int k, int n) => new("MatMul", $"M={m},K={k},N={n}", (c, r) =>
    {
        var x = c.Act(Uniform(r, (long)m * k), m, k);
        var w = c.Float(DType.BF16, Uniform(r, (long)n * k, 1f / MathF.Sqrt(k)), n, k);
        c.Backend.MatMul(x, w, c.Output("y", c.Activation, m, n));
    }, Tolerances.Bf16Reduction);

    public static OpCase Embedding(int vocab, int d, int tokens) => new("Embedding", $"V={vocab},D={d},T={tokens}", (c, r) =>
    {
        var table = c.Float(DType.BF16, Uniform(r, (long)vocab * d), vocab, d);
        var ids = c.Ints(Enumerable.Range(0, tokens).Select(_ => r.Next(vocab)).ToArray());
        c.Backend.Embedding(table, ids, c.Output("y", c.Activation, tokens, d));
    }, 0);

    public static OpCase RmsNorm(int t, int d) => new("RmsNorm", $"T={t},D={d}", (c, r) =>
    {
        var x = c.Act(Uniform(r, (long)t * d, 3f), t, d);
        var w = c.Float(DType.BF16, Uniform(r, d), d);
        c.Backend.RmsNorm(x, w, 1e-5f, c.Output("y", c.Activation, t, d));
    }, Tolerances.Bf16Elementwise);

    /// <summary>Prompts of the given lengths stored into an empty cache and attended at once (the prefill kernel's shape).</summary>
    public static OpCase AttentionPrefill(int[] rowLengths, int heads, int kvHeads, int dh, bool tagged) =>
        new("Attention", $"prefill rows=[{string.Join(",", rowLengths)}],H={heads},Hkv={kvHeads},Dh={dh}{(tagged ? ",tags" : "")}",
            (c, r) => Prefill(c, r, rowLengths, heads, kvHeads, dh, tagged), Tolerances.Bf16Reduction);

    /// <summary>Rows with a long filled context, then one new token each: the decode step's shape.</summary>
    public static OpCase AttentionDecode(int rows, int context, int heads, int dh) =>
        new("Attention", $"decode rows={rows},context={context},H={heads},Dh={dh}",
            (c, r) => Decode(c, r, rows, context, heads, dh), Tolerances.Bf16Reduction);

    /// <summary>Guidance over three rows of a full vocabulary, scales 1 (the conditional logits exactly), 4 and 7.5.</summary>
    public static OpCase CfgCombine() => new("CfgCombine", "n=3,V=65536", (c, r) =>
    {
        var cond = c.Float(DType.F32, Uniform(r, 3 * 65536, 8f), 3, 65536);
        var uncond = c.Float(DType.F32, Uniform(r, 3 * 65536, 8f), 3, 65536);
        var scales = c.Float(DType.F32, [1f, 4f, 7.5f], 3);
        c.Backend.CfgCombine(cond, uncond, scales, c.Output("y", DType.F32, 3, 65536));
    }, 1e-10);

    /// <summary>Top-2000 draws from 64 full-vocabulary rows: the counter-based RNG makes the ids comparable draw for draw.</summary>
    public static OpCase SampleTopK() => new("SampleTopK", "n=64,V=65536,k=2000", (c, r) =>
    {
        const int n = 64, v = 65536;
        var logits = c.Float(DType.F32, Uniform(r, (long)n * v, 6f), n, v);
        var keys = Enumerable.Range(0, n).SelectMany(i => new[] { 1000 + i, 0, 17 * i, 0 }).ToArray();
        c.Backend.SampleTopK(logits, c.Ints(Enumerable.Repeat(2000, n).ToArray()),
            c.Float(DType.F32, Enumerable.Repeat(1f, n).ToArray(), n), c.Ints(keys, n, 4), c.Output("ids", DType.I32, n));
    }, 0.95, Comparison.ExactFraction);

    private static void Prefill(CaseContext c, Random r, int[] rowLengths, int h, int hkv, int dh, bool tagged)
    {
        var (rows, pos) = Packed(rowLengths);
        int t = rows.Length, capacity = rowLengths.Max() + 5;
        var tags = tagged ? rows.Select(_ => r.Next(3)).ToArray() : new int[t];
        var tokens = new TokenMap(c.Ints(rows), c.Ints(pos), c.Ints(tags));
        var cache = new KvLayer(c.Scratch(c.Activation, rowLengths.Length, hkv, capacity, dh),
            c.Scratch(c.Activation, rowLengths.Length, hkv, capacity, dh), c.Scratch(DType.I32, rowLengths.Length, capacity));
        var q = c.Act(Uniform(r, t * h * dh), t, h, dh);
        var k = c.Act(Uniform(r, t * hkv * dh), t, hkv, dh);
        var v = c.Act(Uniform(r, t * hkv * dh), t, hkv, dh);
        c.Backend.KvStore(k, v, tokens, cache);
        c.Backend.Attention(q, cache, tokens, 1f / MathF.Sqrt(dh), c.Output("y", c.Activation, t, h, dh), c.Output("lse", DType.F32, t, h));
    }

    private static void Decode(CaseContext c, Random r, int rowCount, int context, int h, int dh)
    {
        int capacity = context + 3;
        var cache = new KvLayer(c.Scratch(c.Activation, rowCount, h, capacity, dh),
            c.Scratch(c.Activation, rowCount, h, capacity, dh), c.Scratch(DType.I32, rowCount, capacity));
        // Fill each row's context in one KvStore, then run one query per row at the end of its context.
        var lengths = Enumerable.Range(0, rowCount).Select(i => context - 7 * i).ToArray();
        var (rows, pos) = Packed(lengths);
        var fill = new TokenMap(c.Ints(rows), c.Ints(pos), c.Ints(new int[rows.Length]));
        c.Backend.KvStore(c.Act(Uniform(r, (long)rows.Length * h * dh), rows.Length, h, dh),
            c.Act(Uniform(r, (long)rows.Length * h * dh), rows.Length, h, dh), fill, cache);
        var stepRows = Enumerable.Range(0, rowCount).ToArray();
        var step = new TokenMap(c.Ints(stepRows), c.Ints(lengths), c.Ints(new int[rowCount]));
        c.Backend.KvStore(c.Act(Uniform(r, rowCount * h * dh), rowCount, h, dh), c.Act(Uniform(r, rowCount * h * dh), rowCount, h, dh), step, cache);
        var q = c.Act(Uniform(r, rowCount * h * dh, 2f), rowCount, h, dh);
        c.Backend.Attention(q, cache, step, 1f / MathF.Sqrt(dh), c.Output("y", c.Activation, rowCount, h, dh), c.Output("lse", DType.F32, rowCount, h));
    }
}
