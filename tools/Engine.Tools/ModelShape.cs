namespace CoAR.Engine.Tools;

/// <summary>The architecture numbers of a checkpoint to make: the tiny test model, or the real 7B shape for benchmarks.</summary>
public sealed record ModelShape(
    int Hidden,
    int Layers,
    int Heads,
    int KvHeads,
    int Intermediate,
    int Vocab,
    int QkNormGroups,
    bool SwinNorm = false,
    int MaxPositions = 4096)
{
    /// <summary>Small enough for the CPU test suite, with the real vocabulary and special ids.</summary>
    public static ModelShape Tiny { get; } = new(Hidden: 64, Layers: 3, Heads: 4, KvHeads: 4, Intermediate: 176, Vocab: 65536, QkNormGroups: 1);

    /// <summary>Lumina-mGPT 7B (Chameleon 7B): 7,013,158,912 parameters.</summary>
    public static ModelShape Lumina7B { get; } = new(Hidden: 4096, Layers: 32, Heads: 32, KvHeads: 32, Intermediate: 11008, Vocab: 65536, QkNormGroups: 1);

    public int HeadDim => Hidden / Heads;

    public static ModelShape Named(string name) => name.ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        "7b" or "lumina-7b" => Lumina7B,
        _ => throw new ArgumentException($"unknown model shape '{name}'; expected tiny or 7b"),
    };
}
