using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>
/// Conformance cases of WeightGradient (dW = dy^T x, F32 dW): every GPU path (128 and 64 tiles, cp.async and
/// element loads, BF16 and F32 operands), accumulation onto small random starting values, a contraction of one
/// token and one far longer than a tile, and the shapes LoRA gives (a rank-wide side).
/// </summary>
public static class WeightGradientCases
{
    public static IEnumerable<OpCase> All()
    {
        foreach (var (tokens, n, k, f32, accumulate) in new[]
                 {
                     (5, 48, 64, false, false), (70, 72, 96, false, true), (130, 136, 72, false, false), (33, 37, 20, false, true),
                     (1, 16, 24, false, false), (300, 256, 264, false, true), (9, 40, 200, true, false), (17, 19, 64, true, true),
                     (40, 64, 8, false, true), (40, 8, 64, false, false),
                 })
        {
            string variant = $"M={tokens},N={n},K={k}{(f32 ? ",F32" : "")}{(accumulate ? ",accumulate" : "")}";
            yield return new OpCase("WeightGradient", variant, (c, r) =>
            {
                var dyData = Uniform(r, (long)tokens * n);
                var xData = Uniform(r, (long)tokens * k);
                var dy = f32 ? c.Float(DType.F32, dyData, tokens, n) : c.Act(dyData, tokens, n);
                var x = f32 ? c.Float(DType.F32, xData, tokens, k) : c.Act(xData, tokens, k);
                var dw = accumulate
                    ? c.AccumulatorOutput("dw", DType.F32, Uniform(r, (long)n * k, 0.1f), n, k)
                    : c.Output("dw", DType.F32, n, k);
                c.Backend.WeightGradient(dy, x, dw, accumulate);
            }, Tolerances.Bf16Reduction);
        }
    }
}
