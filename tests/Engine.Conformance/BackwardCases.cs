using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>
/// Conformance cases of the training ops' input gradients (weights are frozen): GEMM, norms, RoPE, SwiGLU, attention
/// over the cache and the KV gather, with activations in the target's activation type and F32 gradients where the
/// model passes them (dLogits, a loss head's dHidden).
/// </summary>
public static class BackwardCases
{
    public static IEnumerable<OpCase> All()
    {
        foreach (var (m, n, k) in new[] { (5, 48, 64), (7, 65, 200), (64, 256, 128) })
        {
            yield return new OpCase("MatMulInputGrad", $"M={m},N={n},K={k}", (c, r) =>
            {
                var dy = c.Act(Uniform(r, m * n), m, n);
                var w = c.Float(DType.BF16, Uniform(r, (long)n * k, 1f / MathF.Sqrt(n)), n, k);
                c.Backend.MatMulInputGrad(dy, w, c.Output("dx", c.Activation, m, k));
            }, Tolerances.Bf16Reduction);
        }
        yield return new OpCase("MatMulInputGrad", "accumulate,M=5,N=32,K=48", (c, r) =>
        {
            var dy = c.Act(Uniform(r, 5 * 32), 5, 32);
            var w = c.Float(DType.BF16, Uniform(r, 32 * 48, 0.2f), 32, 48);
            c.Backend.MatMulInputGrad(dy, w, c.AccumulatorOutput("dx", Uniform(r, 5 * 48), 5, 48), accumulate: true);
        }, Tolerances.Bf16Reduction);
        yield return new OpCase("MatMulInputGrad", "F32 dLogits,M=3,N=1000,K=64", (c, r) =>
        {
            var dy = c.Float(DType.F32, Uniform(r, 3 * 1000, 1e-3f), 3, 1000);
            var w = c.Float(DType.BF16, Uniform(r, 1000 * 64, 0.125f), 1000, 64);
            c.Backend.MatMulInputGrad(dy, w, c.Output("dx", c.Activation, 3, 64));
        }, Tolerances.Bf16Reduction);

        foreach (var (t, d) in new[] { (3, 64), (5, 257), (4, 4096) })
        {
            yield return new OpCase("RmsNormBackward", $"T={t},D={d}", (c, r) =>
            {
                var x = c.Act(Uniform(r, t * d, 3f), t, d);
                var w = c.Float(DType.BF16, Uniform(r, d), d);
                c.Backend.RmsNormBackward(x, w, 1e-5f, c.Act(Uniform(r, t * d), t, d), c.Output("dx", c.Activation, t, d));
            }, Tolerances.Bf16Reduction);
        }
        yield return new OpCase("RmsNormBackward", "F32 dy,accumulate,T=2,D=96", (c, r) =>
        {
            var x = c.Act(Uniform(r, 2 * 96, 2f), 2, 96);
            var w = c.Float(DType.F32, Uniform(r, 96), 96);
            var dy = c.Float(DType.F32, Uniform(r, 2 * 96), 2, 96);
            c.Backend.RmsNormBackward(x, w, 1e-5f, dy, c.AccumulatorOutput("dx", Uniform(r, 2 * 96), 2, 96), accumulate: true);
        }, Tolerances.Bf16Reduction);

        foreach (var (t, h, dh, g) in new[] { (3, 4, 16, 1), (5, 32, 128, 1), (7, 6, 10, 2) })
        {
            yield return new OpCase("HeadLayerNormBackward", $"T={t},H={h},Dh={dh},G={g}", (c, r) =>
            {
                var x = c.Act(Uniform(r, t * h * dh, 2f), t, h, dh);
                var gamma = c.Float(DType.BF16, Uniform(r, g * dh), g, dh);
                var dy = c.Act(Uniform(r, t * h * dh), t, h, dh);
                c.Backend.HeadLayerNormBackward(x, gamma, 1e-5f, dy, c.Output("dx", c.Activation, t, h, dh));
            }, Tolerances.Bf16Reduction);
        }

        foreach (var (t, h, dh) in new[] { (4, 3, 8), (9, 32, 128) })
        {
            yield return new OpCase("RopeBackward", $"T={t},H={h},Dh={dh}", (c, r) =>
            {
                var dy = c.Act(Uniform(r, t * h * dh), t, h, dh);
                var pos = c.Ints(Enumerable.Range(0, t).Select(_ => r.Next(4000)).ToArray());
                c.Backend.RopeBackward(dy, pos, 10000f, c.Output("dx", c.Activation, t, h, dh));
            }, Tolerances.Bf16Elementwise);
        }
        yield return new OpCase("RopeBackward", "in place,T=2,H=4,Dh=64", (c, r) =>
        {
            var d = c.AccumulatorOutput("d", Uniform(r, 2 * 4 * 64), 2, 4, 64);
            c.Backend.RopeBackward(d, c.Ints([0, 2999]), 10000f, d);
        }, Tolerances.Bf16Elementwise);

        foreach (var (t, f) in new[] { (1, 176), (4, 33), (3, 11008) })
        {
            yield return new OpCase("SwiGluBackward", $"T={t},F={f}", (c, r) =>
            {
                var gate = c.Act(Uniform(r, t * f, 4f), t, f);
                var up = c.Act(Uniform(r, t * f, 2f), t, f);
                var dOut = c.Act(Uniform(r, t * f), t, f);
                c.Backend.SwiGluBackward(gate, up, dOut, c.Output("dGate", c.Activation, t, f), c.Output("dUp", c.Activation, t, f));
            }, Tolerances.Bf16Elementwise);
        }

        foreach (var accumulate in new[] { false, true })
        {
            yield return new OpCase("KvGather", $"rows=[4,3],Hkv=2,Dh=16{(accumulate ? ",accumulate" : "")}", (c, r) =>
            {
                var (rows, pos) = Packed(4, 3);
                var tokens = new TokenMap(c.Ints(rows), c.Ints(pos), c.Ints(new int[rows.Length]));
                var dKeys = c.Act(Uniform(r, 2 * 2 * 6 * 16), 2, 2, 6, 16);
                var dValues = c.Act(Uniform(r, 2 * 2 * 6 * 16), 2, 2, 6, 16);
                var dk = accumulate ? c.AccumulatorOutput("dk", Uniform(r, 7 * 2 * 16), 7, 2, 16) : c.Output("dk", c.Activation, 7, 2, 16);
                var dv = accumulate ? c.AccumulatorOutput("dv", Uniform(r, 7 * 2 * 16), 7, 2, 16) : c.Output("dv", c.Activation, 7, 2, 16);
                c.Backend.KvGather(dKeys, dValues, tokens, dk, dv, accumulate);
            }, accumulate ? Tolerances.Bf16Elementwise : 0);
        }

        foreach (var (rows, h, hkv, dh, tagged) in new[] { (new[] { 7 }, 4, 4, 16, false), (new[] { 3, 11, 1 }, 8, 2, 64, true) })
        {
            yield return new OpCase("AttentionBackward", $"rows=[{string.Join(",", rows)}],H={h},Hkv={hkv},Dh={dh}{(tagged ? ",tags" : "")}",
                (c, r) => AttentionBackward(c, r, rows, h, hkv, dh, tagged), Tolerances.Bf16Accumulated);
        }
    }

    /// <summary>A prefill through the cache (store, forward with log-sum-exp), then the backward of a random dOutput.</summary>
    private static void AttentionBackward(CaseContext c, Random r, int[] rowLengths, int h, int hkv, int dh, bool tagged)
    {
        var (rows, pos) = Packed(rowLengths);
        int t = rows.Length, capacity = rowLengths.Max() + 3, cacheRows = rowLengths.Length;
        var tags = tagged ? rows.Select(_ => r.Next(3)).ToArray() : new int[t];
        var tokens = new TokenMap(c.Ints(rows), c.Ints(pos), c.Ints(tags));
        var cache = new KvLayer(c.Scratch(c.Activation, cacheRows, hkv, capacity, dh), c.Scratch(c.Activation, cacheRows, hkv, capacity, dh),
            c.Scratch(DType.I32, cacheRows, capacity));
        var q = c.Act(Uniform(r, t * h * dh), t, h, dh);
        c.Backend.KvStore(c.Act(Uniform(r, t * hkv * dh), t, hkv, dh), c.Act(Uniform(r, t * hkv * dh), t, hkv, dh), tokens, cache);
        float scale = 1f / MathF.Sqrt(dh);
        var output = c.Scratch(c.Activation, t, h, dh);
        var lse = c.Scratch(DType.F32, t, h);
        c.Backend.Attention(q, cache, tokens, scale, output, lse);
        var dKeys = c.Output("dKeys", c.Activation, cacheRows, hkv, capacity, dh);
        var dValues = c.Output("dValues", c.Activation, cacheRows, hkv, capacity, dh);
        c.Backend.Zero(dKeys);
        c.Backend.Zero(dValues);
        c.Backend.AttentionBackward(q, cache, tokens, scale, output, lse, c.Act(Uniform(r, t * h * dh), t, h, dh),
            c.Output("dq", c.Activation, t, h, dh), dKeys, dValues);
    }
}
