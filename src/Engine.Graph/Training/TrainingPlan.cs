using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>What a training run will hold in memory, decided before it starts.</summary>
public sealed record TrainingPlan(int MaxTokens, ActivationMode Mode, long ActivationBytes, long KeepBytes, long RecomputeBytes,
    long KvCacheBytes, long FreeBytes, string Device, long AdapterBytes = 0)
{
    public override string ToString() =>
        $"memory plan on {Device}: sequences of up to {MaxTokens} tokens; activations {(Mode == ActivationMode.Keep ? "kept" : "recomputed per layer")} " +
        $"({Mib(ActivationBytes)}; keep {Mib(KeepBytes)}, recompute {Mib(RecomputeBytes)}), KV cache {Mib(KvCacheBytes)}, " +
        (AdapterBytes > 0 ? $"trained weights and their gradients {Mib(AdapterBytes)}, " : "") + $"free {Mib(FreeBytes)}";

    /// <summary>
    /// Keeps every layer's activations when they and the one-row KV cache fit in the free memory (a tenth kept in
    /// reserve), else recomputes each layer in the backward. Every position can be a logit row (all image tokens are).
    /// </summary>
    /// <param name="adapterBytes">What the trained adapters hold on the device besides (LoRA or fine-tuned weights and their gradients).</param>
    public static TrainingPlan For(ChameleonConfig c, int maxTokens, DType activation, long freeBytes, string device, long adapterBytes = 0)
    {
        long keep = TrainingActivations.BytesFor(c, maxTokens, maxTokens, activation, ActivationMode.Keep);
        long recompute = TrainingActivations.BytesFor(c, maxTokens, maxTokens, activation, ActivationMode.Recompute);
        long kv = KvCache.BytesFor(c, 1, maxTokens, activation);
        var mode = kv + keep + adapterBytes <= freeBytes - freeBytes / 10 ? ActivationMode.Keep : ActivationMode.Recompute;
        return new TrainingPlan(maxTokens, mode, mode == ActivationMode.Keep ? keep : recompute, keep, recompute, kv, freeBytes, device, adapterBytes);
    }

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MiB";
}
