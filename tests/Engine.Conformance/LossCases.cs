using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>
/// Conformance cases of the training losses over F32 logits: ignored rows, masked reference logits, the full
/// vocabulary, and gradients written over the logits themselves.
/// </summary>
public static class LossCases
{
    public static IEnumerable<OpCase> All()
    {
        yield return new OpCase("SoftmaxCrossEntropy", "n=5,V=1000,ignored row", (c, r) =>
        {
            var logits = c.Float(DType.F32, Uniform(r, 5 * 1000, 8f), 5, 1000);
            c.Backend.SoftmaxCrossEntropy(logits, c.Ints([3, -1, 999, 0, 512]), c.Output("losses", DType.F32, 5),
                c.Output("dLogits", DType.F32, 5, 1000), 0.25f);
        }, Tolerances.F32);
        yield return new OpCase("SoftmaxCrossEntropy", "in place,n=3,V=65536", (c, r) =>
        {
            var logits = RowCases.F32Accumulator(c, "dLogits", Uniform(r, 3 * 65536, 12f), 3, 65536);
            c.Backend.SoftmaxCrossEntropy(logits, c.Ints([65535, 7, 40000]), c.Output("losses", DType.F32, 3), logits, 1f / 3);
        }, Tolerances.F32);
        yield return new OpCase("SoftmaxCrossEntropy", "odd V,n=2,V=1001", (c, r) =>
        {
            var logits = c.Float(DType.F32, Uniform(r, 2 * 1001, 5f), 2, 1001);
            c.Backend.SoftmaxCrossEntropy(logits, c.Ints([1000, 0]), c.Output("losses", DType.F32, 2), c.Output("dLogits", DType.F32, 2, 1001), 1f);
        }, Tolerances.F32);

        yield return new OpCase("KlDivergence", "n=4,V=1000,masked reference", (c, r) =>
        {
            var referenceData = Uniform(r, 4 * 1000, 6f);
            Array.Fill(referenceData, float.NegativeInfinity, 1000, 500); // row 1: half the vocabulary masked
            var reference = c.Float(DType.F32, referenceData, 4, 1000);
            var logits = c.Float(DType.F32, Uniform(r, 4 * 1000, 6f), 4, 1000);
            c.Backend.KlDivergence(reference, logits, c.Output("losses", DType.F32, 4), c.Output("dLogits", DType.F32, 4, 1000), 0.5f);
        }, Tolerances.F32);
        yield return new OpCase("KlDivergence", "in place,n=2,V=65536", (c, r) =>
        {
            var reference = c.Float(DType.F32, Uniform(r, 2 * 65536, 10f), 2, 65536);
            var logits = RowCases.F32Accumulator(c, "dLogits", Uniform(r, 2 * 65536, 10f), 2, 65536);
            c.Backend.KlDivergence(reference, logits, c.Output("losses", DType.F32, 2), logits, 1f);
        }, Tolerances.F32);
        yield return new OpCase("KlDivergence", "odd V,n=3,V=777", (c, r) =>
        {
            var reference = c.Float(DType.F32, Uniform(r, 3 * 777, 3f), 3, 777);
            var logits = c.Float(DType.F32, Uniform(r, 3 * 777, 3f), 3, 777);
            c.Backend.KlDivergence(reference, logits, c.Output("losses", DType.F32, 3), c.Output("dLogits", DType.F32, 3, 777), 2f);
        }, Tolerances.F32);
    }
}
