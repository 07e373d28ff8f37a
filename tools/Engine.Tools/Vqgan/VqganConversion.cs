using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Managed.Torch;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>What <see cref="VqganConverter"/> did: the files written, what was converted and what was left out.</summary>
public sealed record VqganConversion(
    VqganConfig Config,
    string WeightsPath,
    string ConfigPath,
    int TensorCount,
    long ParameterCount,
    IReadOnlyDictionary<DType, int> SourceDTypes,
    IReadOnlyList<string> SkippedLossKeys,
    IReadOnlyList<SkippedEntry> SkippedEntries);
