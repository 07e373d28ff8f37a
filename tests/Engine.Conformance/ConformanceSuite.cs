namespace CoAR.Engine.Conformance;

/// <summary>Every conformance case of every op family, for the NUnit fixtures and the gpu-check runner.</summary>
public static class ConformanceSuite
{
    public static IEnumerable<OpCase> AllCases() =>
        ForwardCases.All()
            .Concat(SamplingCases.All())
            .Concat(RowCases.All())
            .Concat(BackwardCases.All())
            .Concat(GemmAttentionBackwardCases.All())
            .Concat(WeightGradientCases.All())
            .Concat(LossCases.All())
            .Concat(VqganCases.All());
}
