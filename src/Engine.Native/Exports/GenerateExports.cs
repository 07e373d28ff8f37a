using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Text;

namespace CoAR.Engine.Native.Exports;

/// <summary>coar.h, "generation" and "reference images in the prompt": options defaults, generate (with images), free the result.</summary>
internal static unsafe class GenerateExports
{
    [UnmanagedCallersOnly(EntryPoint = "coar_generate_options_default")]
    public static NativeGenerateOptions OptionsDefault() => Defaults();

    [UnmanagedCallersOnly(EntryPoint = "coar_generate")]
    public static int Generate(nint engine, NativeGenerateOptions* options, NativeImages** images) =>
        NativeCall.Run(() => Run("coar_generate", engine, options, null, images));

    [UnmanagedCallersOnly(EntryPoint = "coar_prompt_images_default")]
    public static NativePromptImages PromptImagesDefault() => new() { Instruction = 1 };

    [UnmanagedCallersOnly(EntryPoint = "coar_generate_with_images")]
    public static int GenerateWithImages(nint engine, NativeGenerateOptions* options, NativePromptImages* references, NativeImages** result) =>
        NativeCall.Run(() => Run("coar_generate_with_images", engine, options, references, result));

    private static void Run(string call, nint engine, NativeGenerateOptions* options, NativePromptImages* references, NativeImages** images)
    {
        NativeCall.RequireOutput(images, call, call == "coar_generate" ? "images" : "result");
        if (options == null) throw NativeCall.InvalidArgument($"{call}: options is NULL (start from coar_generate_options_default())");
        var o = *options;
        var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
        string prompt = NativeStrings.Required(o.Prompt, $"{call}: options->prompt");
        if (o.Count <= 0) throw NativeCall.InvalidArgument($"{call}: options->count is {o.Count}, expected 1 or more");
        var sampling = new SamplingSettings(o.Cfg, o.TopK, o.Temperature);
        sampling.Validate();
        var concepts = Concepts(call, o.Concepts, o.ConceptCount);
        var r = references != null ? *references : new NativePromptImages { Instruction = 1 };
        // coar_generate's prompt (no images struct) is checked by the engine's prompt builder, as before.
        var files = references != null ? ImageFiles(call, prompt, r) : [];
        using var claim = e.Enter(call);
        // Each file read and encoded once, however many images the call makes.
        var encoded = files.Select(f => e.Engine.EncodeReference(f)).ToList();
        var prompts = Enumerable.Range(0, o.Count)
            .Select(i => new ImagePrompt(prompt, o.Width, o.Height, unchecked(o.Seed + (ulong)i), sampling)
            {
                Concepts = concepts, IdentityMask = o.IdentityMask != 0, References = encoded, Instruction = r.Instruction != 0,
            })
            .ToList();
        using var cancellation = new CallCancellation(o.Cancel);
        var progress = o.Progress == null ? null : new GenerateProgressCallback(o.Progress, o.ProgressUserData, cancellation);
        NativeCall.Cancellable(cancellation, call, token => *images = ImageResults.Allocate(e.Engine.Generate(prompts, progress, token)));
    }

    /// <summary>The reference image files, checked against the prompt's &lt;|image|&gt; symbols before any is read.</summary>
    private static string[] ImageFiles(string call, string prompt, NativePromptImages r)
    {
        if (r.ImageCount < 0) throw NativeCall.InvalidArgument($"{call}: images->image_count is {r.ImageCount}, expected 0 or more");
        if (r.ImageCount > 0 && r.ImagePaths == null) throw NativeCall.InvalidArgument($"{call}: images->image_paths is NULL but image_count is {r.ImageCount}");
        int symbols = LuminaPrompt.ImagePlaceholderCount(prompt);
        if (symbols > 0 && symbols != r.ImageCount)
            throw NativeCall.InvalidArgument($"{call}: options->prompt holds {symbols} {LuminaPrompt.ImagePlaceholder} but images->image_count is {r.ImageCount}; " +
                $"give one image per {LuminaPrompt.ImagePlaceholder} (or none in the prompt: all images go first)");
        var files = new string[r.ImageCount];
        for (int i = 0; i < files.Length; i++) files[i] = NativeStrings.Required(r.ImagePaths[i], $"{call}: images->image_paths[{i}]");
        return files;
    }

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
