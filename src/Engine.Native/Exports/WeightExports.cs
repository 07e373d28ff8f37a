using System.Runtime.InteropServices;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Lora;

namespace CoAR.Engine.Native.Exports;

/// <summary>coar.h, "adapted weights": fine-tuned projections and LoRA adapters applied to an engine, and what it runs with.</summary>
internal static unsafe class WeightExports
{
    [UnmanagedCallersOnly(EntryPoint = "coar_engine_apply_projections")]
    public static int ApplyProjections(nint engine, byte* path) => NativeCall.Run(() =>
    {
        const string call = "coar_engine_apply_projections";
        var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
        string file = NativeStrings.Required(path, $"{call}: path");
        using var claim = e.Enter(call);
        if (e.Engine.AppliedLora != LoraMode.None)
            throw NativeCall.InvalidArgument($"{call}: '{file}': this engine already has LoRA adapters applied; apply fine-tuned weights first (the adapters go on top of them)");
        if (e.Engine.AppliedProjections)
            throw NativeCall.InvalidArgument($"{call}: '{file}': this engine already has fine-tuned weights applied; load a new engine for other ones");
        // Read whole, then checked against the model (by ApplyProjections) before anything is replaced.
        e.Engine.ApplyProjections(FineTunedProjections.Load(Directory.Exists(file) ? Path.Combine(file, FineTunedProjections.FileName) : file));
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_engine_apply_lora")]
    public static int ApplyLora(nint engine, byte** adapterDirs, int count, int merge) => NativeCall.Run(() =>
    {
        const string call = "coar_engine_apply_lora";
        var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
        if (count <= 0) throw NativeCall.InvalidArgument($"{call}: count is {count}, expected 1 or more adapters");
        if (adapterDirs == null) throw NativeCall.InvalidArgument($"{call}: adapter_dirs is NULL");
        var paths = new string[count];
        for (int i = 0; i < count; i++) paths[i] = NativeStrings.Required(adapterDirs[i], $"{call}: adapter_dirs[{i}]");
        using var claim = e.Enter(call);
        if (e.Engine.AppliedLora != LoraMode.None)
            throw NativeCall.InvalidArgument($"{call}: this engine already has LoRA adapters applied ({e.Engine.AppliedLora.ToString().ToLowerInvariant()}); load a new engine for other adapters");
        var adapters = new List<LoraAdapter>(count);
        foreach (var path in paths)
        {
            var adapter = PeftAdapterFile.Load(path).Adapter;
            adapter.CheckFits(e.Engine.Model.Config, $"LoRA adapter '{path}'");
            adapters.Add(adapter);
        }
        e.Engine.ApplyLora(adapters, merge != 0);
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_engine_weights_get")]
    public static int Weights(nint engine, NativeEngineWeights* weights) => NativeCall.Run(() =>
    {
        NativeCall.RequireOutput(weights, "coar_engine_weights_get", "weights");
        var e = HandleTable.Get<NativeEngine>(engine, "coar_engine_weights_get: engine").Engine;
        *weights = new NativeEngineWeights { Lora = (int)e.AppliedLora, Projections = e.AppliedProjections ? 1 : 0 };
    });
}
