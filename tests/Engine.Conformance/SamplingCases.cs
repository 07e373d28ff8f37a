using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>
/// Conformance cases of the top-k draw beyond the plain one in <see cref="ForwardCases"/>: many ties at the k-th
/// value, k that keeps everything with a temperature, a vocabulary that is not a multiple of 4, and draws after the
/// layout constraint. Ids must match the reference (a draw whose u * total lands within rounding of a boundary may
/// differ, hence a fraction).
/// </summary>
public static class SamplingCases
{
    public static IEnumerable<OpCase> All()
    {
        yield return new OpCase("SampleTopK", "ties,n=32,V=9001,k=100,T=0.8", (c, r) =>
        {
            const int n = 32, v = 9001;
            // Values on a grid of 17 levels: thousands of ids tie at every level, the k-th included.
            var logits = Uniform(r, (long)n * v, 2f).Select(x => MathF.Round(x * 4f) / 4f).ToArray();
            Draw(c, n, c.Float(DType.F32, logits, n, v), k: 100, temperature: 0.8f);
        }, 0.9, Comparison.ExactFraction);
        yield return new OpCase("SampleTopK", "keep all,n=16,V=4096,k=0,T=0.5", (c, r) =>
        {
            const int n = 16, v = 4096;
            Draw(c, n, c.Float(DType.F32, Uniform(r, (long)n * v, 4f), n, v), k: 0, temperature: 0.5f);
        }, 0.9, Comparison.ExactFraction);
        yield return new OpCase("SampleTopK", "after constraint,n=8,V=9000,k=2000", (c, r) =>
        {
            const int n = 8, v = 9000;
            var logits = c.Float(DType.F32, Uniform(r, (long)n * v, 6f), n, v);
            c.Backend.ConstrainLogits(logits, c.Ints([8803, 0, 0, -1, 4, 8196, -1, 100, 105, 8196, 0, 0, -1, 4, 8196, -1, 0, 9000,
                -1, 8990, 9000, 17, 0, 0], n, 3));
            Draw(c, n, logits, k: 2000, temperature: 1f);
        }, 0.85, Comparison.ExactFraction);
    }

    /// <summary>Row i drawn with seed 77 + i at counter 3 i.</summary>
    private static void Draw(CaseContext c, int n, Tensor logits, int k, float temperature)
    {
        var keys = Enumerable.Range(0, n).SelectMany(i => new[] { 77 + i, i % 3, 3 * i, 0 }).ToArray();
        c.Backend.SampleTopK(logits, c.Ints(Enumerable.Repeat(k, n).ToArray()), c.Float(DType.F32, Enumerable.Repeat(temperature, n).ToArray(), n),
            c.Ints(keys, n, 4), c.Output("ids", DType.I32, n));
    }
}
