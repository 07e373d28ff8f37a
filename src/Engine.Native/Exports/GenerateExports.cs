using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;

namespace CoAR.Engine.Native.Exports;

/// <summary>coar.h, "generation": options defaults, generate, free the result.</summary>
internal static unsafe class GenerateExports
{
    [UnmanagedCallersOnly(EntryPoint = "coar_generate_options_default")]
    public static NativeGenerateOptions OptionsDefault() => Defaults();

    [UnmanagedCallersOnly(EntryPoint = "coar_generate")]
    public static int Generate(nint engine, NativeGenerateOptions* options, NativeImages** images) => NativeCall.Run(() =>
    {
        const string call = "coar_generate";
        NativeCall.RequireOutput(images, call, "images");
        if (options == null) throw NativeCall.InvalidArgument($"{call}: options is NULL (start from coar_generate_options_default())");
        var o = *options;
        var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
        string prompt = NativeStrings.Required(o.Prompt, $"{call}: options->prompt");
        if (o.Count <= 0) throw NativeCall.InvalidArgument($"{call}: options->count is {o.Count}, expected 1 or more");
        var sampling = new SamplingSettings(o.Cfg, o.TopK, o.Temperature);
        sampling.Validate();
        var concepts = Concepts(call, o.Concepts, o.ConceptCount);
        var prompts = Enumerable.Range(0, o.Count)
            .Select(i => new ImagePrompt(prompt, o.Width, o.Height, unchecked(o.Seed + (ulong)i), sampling)
            {
                Concepts = concepts, IdentityMask = o.IdentityMask != 0,
            })
            .ToList();
        using var claim = e.Enter(call);
        using var cancellation = new CallCancellation(o.Cancel);
        var progress = o.Progress == null ? null : new GenerateProgressCallback(o.Progress, o.ProgressUserData, cancellation);
        NativeCall.Cancellable(cancellation, call, token => *images = ImageResults.Allocate(e.Engine.Generate(prompts, progress, token)));
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_images_free")]
    public static void Free(NativeImages* images)
    {
        if (images != null) ImageResults.Free(images);
    }

    private static NativeGenerateOptions Defaults()
    {
        var sampling = new SamplingSettings();
        return new NativeGenerateOptions
        {
            Width = 768, Height = 768, Count = 1, Cfg = sampling.Cfg, TopK = sampling.ImageTopK, Temperature = sampling.Temperature,
            IdentityMask = 1,
        };
    }

    private static List<Concept> Concepts(string call, nint* handles, int count)
    {
        if (count < 0) throw NativeCall.InvalidArgument($"{call}: options->concept_count is {count}, expected 0 or more");
        if (count > 0 && handles == null) throw NativeCall.InvalidArgument($"{call}: options->concepts is NULL but concept_count is {count}");
        var concepts = new List<Concept>(count);
        for (int i = 0; i < count; i++)
            concepts.Add(HandleTable.Get<NativeConcept>(handles[i], $"{call}: options->concepts[{i}]").Concept);
        return concepts;
    }
}
