using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>Conformance cases of the inference ops: several shapes each, odd ones included.</summary>
public static class ForwardCases
{
    // bf16 activations carry a relative error of ~2^-9 per element: NMSE ~1e-5 per rounding, more after long sums.
    private const double Elementwise = 1e-4;
    private const double Reduction = 5e-4;

    public static IEnumerable<OpCase> All()
    {
        foreach (var (m, k, n) in new[] { (1, 64, 33), (2, 96, 128), (7, 200, 65), (64, 128, 256), (129, 72, 4097), (1, 4096, 512) })
        {
            yield return CoreCases.MatMul(m, k, n);
        }
        yield return new OpCase("MatMul", "accumulate,M=5,K=64,N=48", (c, r) =>
        {
            var x = c.Act(Uniform(r, 5 * 64), 5, 64);
            var w = c.Float(DType.BF16, Uniform(r, 48 * 64, 0.125f), 48, 64);
            var y = c.AccumulatorOutput("y", Uniform(r, 5 * 48), 5, 48);
            c.Backend.MatMul(x, w, y, accumulate: true);
        }, Reduction);
        yield return new OpCase("MatMul", "logits,F32 out,M=3,K=64,N=1000", (c, r) =>
        {
            var x = c.Act(Uniform(r, 3 * 64), 3, 64);
            var w = c.Float(DType.BF16, Uniform(r, 1000 * 64, 0.125f), 1000, 64);
            c.Backend.MatMul(x, w, c.Output("logits", DType.F32, 3, 1000));
        }, Reduction);

        yield return CoreCases.Embedding(1000, 72, 9);

        foreach (var (t, d) in new[] { (1, 64), (5, 257), (33, 4096) })
        {
            yield return CoreCases.RmsNorm(t, d);
        }

        foreach (var (t, h, dh, g) in new[] { (3, 4, 16, 1), (5, 32, 128, 1), (2, 8, 128, 8), (7, 6, 10, 2) })
        {
            yield return new OpCase("HeadLayerNorm", $"T={t},H={h},Dh={dh},G={g}", (c, r) =>
            {
                var x = c.Act(Uniform(r, t * h * dh, 2f), t, h, dh);
                var gamma = c.Float(DType.BF16, Uniform(r, g * dh), g, dh);
                var beta = c.Float(DType.BF16, Uniform(r, g * dh), g, dh);
                c.Backend.HeadLayerNorm(x, gamma, beta, 1e-5f, c.Output("y", c.Activation, t, h, dh));
            }, Elementwise);
        }

        foreach (var (t, h, dh) in new[] { (4, 3, 8), (9, 32, 128), (1, 2, 128) })
        {
            yield return new OpCase("Rope", $"T={t},H={h},Dh={dh}", (c, r) =>
            {
                var x = c.Act(Uniform(r, t * h * dh), t, h, dh);
                var pos = c.Ints(Enumerable.Range(0, t).Select(_ => r.Next(4000)).ToArray());
                c.Backend.Rope(x, pos, 10000f, c.Output("y", c.Activation, t, h, dh));
            }, Elementwise);
        }

        foreach (var (rows, h, hkv, dh, tagged) in new[]
                 {
                     (new[] { 7 }, 4, 4, 16, false), (new[] { 3, 11, 1 }, 8, 2, 64, true), (new[] { 40, 17 }, 32, 32, 128, true),
                 })
        {
            yield return CoreCases.AttentionPrefill(rows, h, hkv, dh, tagged);
        }
        foreach (var (rows, context, h, dh) in new[] { (1, 300, 4, 64), (4, 2357, 32, 128), (3, 1000, 8, 128) })
        {
            yield return CoreCases.AttentionDecode(rows, context, h, dh);
        }

        foreach (var (t, f) in new[] { (1, 176), (9, 11008), (4, 33) })
        {
            yield return new OpCase("SwiGlu", $"T={t},F={f}", (c, r) =>
            {
                var gate = c.Act(Uniform(r, t * f, 4f), t, f);
                var up = c.Act(Uniform(r, t * f, 2f), t, f);
                c.Backend.SwiGlu(gate, up, c.Output("y", c.Activation, t, f));
            }, Elementwise);
        }
        yield return new OpCase("Add", "T=5,D=4096", (c, r) =>
        {
            var a = c.Act(Uniform(r, 5 * 4096), 5, 4096);
            var b = c.Act(Uniform(r, 5 * 4096), 5, 4096);
            c.Backend.Add(a, b, c.Output("y", c.Activation, 5, 4096));
        }, Elementwise);
        yield return new OpCase("GatherRows", "T=10,D=96,n=4", (c, r) =>
        {
            var x = c.Act(Uniform(r, 10 * 96), 10, 96);
            var idx = c.Ints([9, 0, 9, 4]);
            c.Backend.GatherRows(x, idx, c.Output("y", c.Activation, 4, 96));
        }, 0);

        foreach (var cse in SamplingCases()) yield return cse;
        foreach (var cse in GemmStressCases()) yield return cse;
        foreach (var cse in AttentionStressCases()) yield return cse;
    }

    private static IEnumerable<OpCase> SamplingCases()
    {
        yield return CoreCases.CfgCombine();
        yield return new OpCase("ConstrainLogits", "n=3,V=9000", (c, r) =>
        {
            var logits = c.Float(DType.F32, Uniform(r, 3 * 9000, 8f), 3, 9000);
            c.Backend.ConstrainLogits(logits, c.Ints([8803, 0, 0, -1, 4, 8196, -1, 0, 9000], 3, 3));
            c.Backend.Copy(logits, c.Output("y", DType.F32, 3, 9000));
        }, 0);
        yield return CoreCases.SampleTopK();
    }

    /// <summary>
    /// Shapes for each GPU GEMM path: the decode GEMV (M &lt;= 8) and just above it, odd and unaligned K (the
    /// element-wise tails), grids of several tiles, f32 activations (staged to bf16), f32 weights (the fp32 kernel).
    /// </summary>
    private static IEnumerable<OpCase> GemmStressCases()
    {
        foreach (var (m, k, n, xF32, wF32, yF32, accumulate) in new[]
                 {
                     (1, 520, 70, false, false, false, false), (2, 520, 70, false, false, true, false), (5, 264, 33, false, false, false, true),
                     (8, 520, 70, false, false, false, false), (9, 264, 100, false, false, false, false), (16, 128, 40, false, false, false, true),
                     (3, 77, 19, false, false, false, false), (20, 37, 41, false, false, true, false), (130, 200, 136, false, false, false, false),
                     (12, 1032, 24, false, false, true, false), (70, 96, 50, true, false, false, false), (2, 128, 33, true, false, true, false),
                     (20, 40, 30, false, true, false, false), (4, 64, 10, false, true, false, true), (33, 45, 17, true, true, true, false),
                 })
        {
            string variant = $"M={m},K={k},N={n}{(xF32 ? ",x F32" : "")}{(wF32 ? ",w F32" : "")}{(yF32 ? ",y F32" : "")}{(accumulate ? ",accumulate" : "")}";
            yield return new OpCase("MatMul", variant, (c, r) =>
            {
                var xData = Uniform(r, (long)m * k);
                var x = xF32 ? c.Float(DType.F32, xData, m, k) : c.Act(xData, m, k);
                var w = c.Float(wF32 ? DType.F32 : DType.BF16, Uniform(r, (long)n * k, 1f / MathF.Sqrt(k)), n, k);
                var y = accumulate ? c.AccumulatorOutput("y", Uniform(r, (long)m * n), m, n)
                    : c.Output("y", yF32 ? DType.F32 : c.Activation, m, n);
                c.Backend.MatMul(x, w, y, accumulate);
            }, Reduction);
        }
    }

    /// <summary>
    /// Attention shapes for the GPU kernels: prefill tiles that span rows and key tiles, head dims from 8 to 128 with
    /// and without 16-byte alignment (dh % 8), GQA, identity tags, interleaved packing, long decode contexts (several
    /// split-K chunks), a few queries per row (still the decode path) and just past it (prefill with one pass per row).
    /// </summary>
    private static IEnumerable<OpCase> AttentionStressCases()
    {
        foreach (var shape in new AttentionShape[]
                 {
                     new([0, 0], [70, 5], 2, 2, 128, Tagged: true), new([0, 0], [9, 13], 2, 1, 8), new([0, 0], [17, 6], 2, 2, 20, Tagged: true),
                     new([0], [30], 4, 2, 40), new([3, 0], [25, 30], 2, 1, 96, Tagged: true), new([0, 0], [10, 10], 2, 2, 64, Tagged: true, Interleave: true),
                     new([4099, 2000], [1, 1], 2, 2, 128), new([700, 20, 513], [1, 1, 1], 4, 2, 64, Tagged: true), new([299, 150, 3, 77, 5, 260, 1, 300], [1, 1, 1, 1, 1, 1, 1, 1], 4, 4, 16),
                     new([40, 9], [2, 2], 2, 2, 128, Tagged: true), new([30, 0, 12], [3, 3, 3], 2, 2, 64, Tagged: true, Interleave: true), new([600], [1], 2, 1, 12),
                 })
        {
            yield return new OpCase("Attention", shape.ToString(), (c, r) =>
            {
                var s = AttentionSetup.Create(c, r, shape);
                c.Backend.Attention(s.Q, s.Cache, s.Tokens, 1f / MathF.Sqrt(shape.HeadDim),
                    c.Output("y", c.Activation, s.Count, shape.Heads, shape.HeadDim), c.Output("lse", DType.F32, s.Count, shape.Heads));
            }, Reduction);
        }
    }
}
