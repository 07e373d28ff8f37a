using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>
/// Conformance cases of the training GEMM and attention backward: MatMulInputGrad on every GPU path (tensor-core
/// NN tiles aligned or not, f32 dLogits, f32 weights, accumulation) and AttentionBackward over packed, tagged,
/// GQA and interleaved token maps with head dims 12..128. dKeys/dValues start from small random values, so the
/// accumulation is checked without hiding the gradient under the initial values.
/// </summary>
public static class GemmAttentionBackwardCases
{
    public static IEnumerable<OpCase> All()
    {
        foreach (var (m, n, k, dyF32, wF32, accumulate) in new[]
                 {
                     (5, 48, 64, false, false, false), (70, 72, 96, false, false, false), (130, 136, 72, false, false, true),
                     (33, 37, 20, false, false, false), (9, 200, 40, true, false, false), (17, 64, 19, true, false, true),
                     (10, 30, 20, false, true, false), (3, 16, 24, true, true, true),
                 })
        {
            string variant = $"M={m},N={n},K={k}{(dyF32 ? ",dy F32" : "")}{(wF32 ? ",w F32" : "")}{(accumulate ? ",accumulate" : "")}";
            yield return new OpCase("MatMulInputGrad", variant, (c, r) =>
            {
                var dyData = Uniform(r, (long)m * n);
                var dy = dyF32 ? c.Float(DType.F32, dyData, m, n) : c.Act(dyData, m, n);
                var w = c.Float(wF32 ? DType.F32 : DType.BF16, Uniform(r, (long)n * k, 1f / MathF.Sqrt(n)), n, k);
                var dx = accumulate ? c.AccumulatorOutput("dx", Uniform(r, (long)m * k), m, k) : c.Output("dx", c.Activation, m, k);
                c.Backend.MatMulInputGrad(dy, w, dx, accumulate);
            }, Tolerances.Bf16Reduction);
        }

        foreach (var shape in new AttentionShape[]
                 {
                     new([0], [7], 2, 2, 16), new([0, 0], [20, 9], 4, 2, 64, Tagged: true), new([0], [40], 2, 2, 128, Tagged: true),
                     new([0, 0], [11, 4], 2, 1, 12, Tagged: true), new([50, 0], [20, 70], 2, 2, 128), new([5, 0], [12, 12], 2, 2, 64, Tagged: true, Interleave: true),
                 })
        {
            yield return new OpCase("AttentionBackward", shape.ToString(), (c, r) => Backward(c, r, shape), Tolerances.Bf16Accumulated);
        }
    }

    private static void Backward(CaseContext c, Random r, AttentionShape shape)
    {
        var s = AttentionSetup.Create(c, r, shape);
        int t = s.Count, h = shape.Heads, dh = shape.HeadDim;
        float scale = 1f / MathF.Sqrt(dh);
        var output = c.Scratch(c.Activation, t, h, dh);
        var lse = c.Scratch(DType.F32, t, h);
        c.Backend.Attention(s.Q, s.Cache, s.Tokens, scale, output, lse);
        var dOutput = c.Act(Uniform(r, (long)t * h * dh), t, h, dh);
        var cacheShape = s.Cache.Keys.Shape.ToArray();
        long cacheCount = s.Cache.Keys.ElementCount;
        var dKeys = c.AccumulatorOutput("dKeys", Uniform(r, cacheCount, 0.05f), cacheShape);
        var dValues = c.AccumulatorOutput("dValues", Uniform(r, cacheCount, 0.05f), cacheShape);
        c.Backend.AttentionBackward(s.Q, s.Cache, s.Tokens, scale, output, lse, dOutput, c.Output("dq", c.Activation, t, h, dh), dKeys, dValues);
    }
}
