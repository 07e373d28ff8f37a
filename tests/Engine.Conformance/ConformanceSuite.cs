namespace CoAR.Engine.Conformance;

/// <summary>Every conformance case of every op family.</summary>
public static class ConformanceSuite
{
    public static IEnumerable<OpCase> AllCases() => ForwardCases.All();
}
