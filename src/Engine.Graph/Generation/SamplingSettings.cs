namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// How image tokens are drawn. Defaults are the CoAR paper's personalization runs on Lumina-mGPT: cfg 4, image top-k
/// 2000, temperature 1.
/// </summary>
public sealed record SamplingSettings(float Cfg = 4f, int ImageTopK = 2000, float Temperature = 1f)
{
    public void Validate()
    {
        if (!(Cfg >= 0) || float.IsInfinity(Cfg)) throw new ArgumentOutOfRangeException(nameof(Cfg), Cfg, "cfg must be a finite number >= 0");
        if (ImageTopK < 0) throw new ArgumentOutOfRangeException(nameof(ImageTopK), ImageTopK, "top-k must be >= 0 (0 keeps every token)");
        if (!(Temperature > 0) || float.IsInfinity(Temperature)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be a positive number");
    }

    /// <summary>Whether unconditional rows are needed: at cfg 1 the guided logits are the conditional ones exactly.</summary>
    public bool UsesGuidance => Cfg != 1f;
}
