namespace CoAR.Engine.Graph.Text.Models;

/// <summary>The settings of a tokenizer.json BPE model besides its vocabulary and merges.</summary>
internal sealed record BpeOptions(
    string? UnkToken,
    string? ContinuingSubwordPrefix,
    string? EndOfWordSuffix,
    bool FuseUnk,
    bool ByteFallback,
    bool IgnoreMerges);
