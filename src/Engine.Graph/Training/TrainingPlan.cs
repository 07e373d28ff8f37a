namespace CoAR.Engine.Graph.Training;

/// <summary>What a training run will hold in memory, decided before it starts.</summary>
public sealed record TrainingPlan(int MaxTokens, ActivationMode Mode, long ActivationBytes, long KeepBytes, long RecomputeBytes,
    long KvCacheBytes, long FreeBytes, string Device)
{
    public override string ToString() =>
        $"memory plan on {Device}: sequences of up to {MaxTokens} tokens; activations {(Mode == ActivationMode.Keep ? "kept" : "recomputed per layer")} " +
        $"({Mib(ActivationBytes)}; keep {Mib(KeepBytes)}, recompute {Mib(RecomputeBytes)}), KV cache {Mib(KvCacheBytes)}, free {Mib(FreeBytes)}";

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";
}
