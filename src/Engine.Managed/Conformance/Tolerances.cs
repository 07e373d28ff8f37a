namespace CoAR.Engine.Managed.Conformance;

/// <summary>NMSE thresholds shared by the case files: what bf16 storage, fp32 sums and fp64 sums can reach.</summary>
public static class Tolerances
{
    /// <summary>A bf16 result carries a relative error of ~2^-9 per element: NMSE ~1e-5 per rounding.</summary>
    public const double Bf16Elementwise = 1e-4;

    /// <summary>bf16 results of row reductions, or of several roundings in a row.</summary>
    public const double Bf16Reduction = 5e-4;

    /// <summary>bf16 results summed over many terms (gradients of attention accumulated over queries).</summary>
    public const double Bf16Accumulated = 2e-3;

    /// <summary>fp32 on both sides, only the order of fp32 sums (or an exp's last bit) differing.</summary>
    public const double F32 = 1e-9;
}
