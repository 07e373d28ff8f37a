namespace CoAR.Engine.Managed.Conformance;

/// <summary>How a case's outputs are judged against the reference backend's.</summary>
public enum Comparison
{
    /// <summary>Normalized mean squared error sum((a - b)^2) / sum(b^2) at most the case's threshold.</summary>
    Nmse,

    /// <summary>Integer outputs (sampled ids): at least the case's fraction of elements equal.</summary>
    ExactFraction,
}

/// <summary>
/// One op at one shape: <see cref="Run"/> builds inputs from the seeded Random (so both backends get the same
/// numbers), calls the op on the context's backend, and declares its outputs through the context.
/// </summary>
public sealed record OpCase(string Op, string Variant, Action<CaseContext, Random> Run, double Threshold, Comparison Comparison = Comparison.Nmse)
{
    public string Name => $"{Op}({Variant})";
    public override string ToString() => Name;
}

public sealed record CaseResult(string Name, bool Passed, double Error, string Detail)
{
    public override string ToString() => $"{(Passed ? "ok  " : "FAIL")} {Name}: {Detail}";
}
