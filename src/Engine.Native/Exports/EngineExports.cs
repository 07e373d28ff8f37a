using System.Runtime.InteropServices;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Native.Exports;

/// <summary>coar.h, "engines" and "memory": load, free, info, memory estimates.</summary>
internal static unsafe class EngineExports
{
    /// <summary>The prompt budget the memory estimates assume, as `coar inspect` does.</summary>
    private const int PromptTokens = 128;

    [UnmanagedCallersOnly(EntryPoint = "coar_load_options_default")]
    public static NativeLoadOptions LoadOptionsDefault() => new() { TargetSize = LuminaPrompt.DefaultTargetSize };

    [UnmanagedCallersOnly(EntryPoint = "coar_engine_load")]
    public static int Load(byte* modelDir, NativeLoadOptions* options, nint* engine) => NativeCall.Run(() =>
    {
        const string call = "coar_engine_load";
        NativeCall.RequireOutput(engine, call, "engine");
        string dir = NativeStrings.Required(modelDir, $"{call}: model_dir");
        var o = options != null ? *options : new NativeLoadOptions { TargetSize = LuminaPrompt.DefaultTargetSize };
        LuminaImageSizes.Allowed(o.TargetSize); // validates the target before anything loads
        var parameters = new EngineParams(dir, NativeStrings.Read(o.Device) ?? "auto", NativeStrings.Read(o.VqganDir), o.TargetSize);
        using var cancellation = new CallCancellation(o.Cancel);
        var progress = o.Progress == null ? null : new LoadProgressCallback(o.Progress, o.ProgressUserData, cancellation);
        NativeCall.Cancellable(cancellation, call, token =>
        {
            var loaded = CoarEngine.Load(parameters, progress, token);
            *engine = HandleTable.Add(new NativeEngine(loaded));
        });
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_engine_free")]
    public static int Free(nint engine) => NativeCall.Run(() =>
    {
        if (engine == 0) return;
        var e = HandleTable.Get<NativeEngine>(engine, "coar_engine_free: engine");
        e.Free();
        HandleTable.Remove(engine, e);
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_engine_info_get")]
    public static int Info(nint engine, NativeEngineInfo* info) => NativeCall.Run(() =>
    {
        NativeCall.RequireOutput(info, "coar_engine_info_get", "info");
        var e = HandleTable.Get<NativeEngine>(engine, "coar_engine_info_get: engine");
        var config = e.Engine.Model.Config;
        *info = new NativeEngineInfo
        {
            Device = e.Strings[0], FallbackReason = e.Strings[1], Fingerprint = e.Strings[2], TargetSize = e.Engine.Parameters.TargetSize,
            Layers = config.NumLayers, HiddenSize = config.HiddenSize, VocabSize = config.VocabSize,
        };
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_estimate_memory")]
    public static int EstimateMemory(byte* modelDir, byte* device, int images, int width, int height, int guided, NativeMemoryEstimate* estimate) =>
        NativeCall.Run(() =>
        {
            const string call = "coar_estimate_memory";
            NativeCall.RequireOutput(estimate, call, "estimate");
            string dir = NativeStrings.Required(modelDir, $"{call}: model_dir");
            string dev = NativeStrings.Required(device, $"{call}: device");
            var activations = dev == "cpu" ? DType.F32
                : dev == "cuda" || dev.StartsWith("cuda:", StringComparison.Ordinal) ? DType.BF16
                : throw NativeCall.InvalidArgument($"{call}: device '{dev}', expected \"cpu\" or \"cuda\" (the estimate depends on the activation type)");
            CheckBatch(call, images, width, height);
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{call}: model directory '{dir}' not found");
            var summary = CheckpointSummary.Read(dir);
            *estimate = ToNative(MemoryEstimate.For(summary.Config, summary.Bytes, images, width, height, guided != 0, PromptTokens, activations));
        });

    [UnmanagedCallersOnly(EntryPoint = "coar_engine_estimate_memory")]
    public static int EngineEstimateMemory(nint engine, int images, int width, int height, int guided, NativeMemoryEstimate* estimate) =>
        NativeCall.Run(() =>
        {
            const string call = "coar_engine_estimate_memory";
            NativeCall.RequireOutput(estimate, call, "estimate");
            var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
            CheckBatch(call, images, width, height);
            *estimate = ToNative(e.Engine.EstimateMemory(images, width, height, guided != 0, PromptTokens));
        });

    [UnmanagedCallersOnly(EntryPoint = "coar_engine_largest_batch")]
    public static int LargestBatch(nint engine, int width, int height, int guided, int cap, int* batch) => NativeCall.Run(() =>
    {
        const string call = "coar_engine_largest_batch";
        NativeCall.RequireOutput(batch, call, "batch");
        var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
        CheckBatch(call, cap, width, height);
        using var claim = e.Enter(call);
        *batch = e.Engine.LargestBatch(width, height, guided != 0, cap, PromptTokens);
    });

    private static void CheckBatch(string call, int images, int width, int height)
    {
        if (images <= 0) throw NativeCall.InvalidArgument($"{call}: the image count is {images}, expected 1 or more");
        if (width <= 0 || height <= 0 || width % 16 != 0 || height % 16 != 0)
            throw NativeCall.InvalidArgument($"{call}: size {width}x{height}, expected positive multiples of 16 (the VQGAN's patch)");
    }

    private static NativeMemoryEstimate ToNative(MemoryEstimate m) => new()
    {
        WeightBytes = m.WeightBytes, KvCacheBytes = m.KvCacheBytes, ActivationBytes = m.ActivationBytes, TotalBytes = m.TotalBytes,
        Rows = m.Rows, TokensPerRow = m.TokensPerRow,
    };
}
