using System.Diagnostics;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// Text to image: the Lumina prompt (BOS, "Generate an image of WxH according to the following prompt:\n...", end
/// of turn), batched image-token generation with classifier-free guidance, and the VQGAN decoder to pixels.
/// </summary>
public sealed class ImageGenerator(ChameleonModel model, LuminaPrompt prompt, VqganModel vqgan)
{
    private readonly ImageTokenGenerator _tokens = new(model);
    private readonly ImageTokenIds _ids = prompt.Vocabulary.ToImageTokenIds();

    public ChameleonModel Model => model;

    /// <summary>Generates the images in one lock-step batch (all guided, or all with cfg 1).</summary>
    public IReadOnlyList<GeneratedImage> Generate(IReadOnlyList<ImagePrompt> prompts,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellation = default)
    {
        var concepts = prompts.SelectMany(p => p.Concepts).Distinct().ToList();
        var table = concepts.Count > 0 ? new ContextTable(concepts) : null;
        var requests = prompts.Select(p => Request(p, table)).ToList();
        using var tableTensor = table is null ? null : Upload(table);
        var results = _tokens.Generate(requests, progress, cancellation, tableTensor);
        var timings = _tokens.LastTimings!;
        var images = new List<GeneratedImage>(results.Count);
        for (int i = 0; i < results.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var layout = results[i].Layout;
            var pixels = vqgan.Decode(results[i].Codes, layout.LatentHeight, layout.LatentWidth);
            var image = ImagePostprocessor.FromDecoderOutput(pixels, layout.WidthPx, layout.HeightPx);
            images.Add(new GeneratedImage(prompts[i], image, results[i].Tokens, requests[i].PromptTokens, timings, clock.Elapsed));
        }
        return images;
    }

    /// <summary>
    /// Checks a prompt without generating: size, placeholders bound and present, concepts fitting the model. Throws
    /// ArgumentException naming what is wrong.
    /// </summary>
    public void Check(ImagePrompt p)
    {
        var table = p.Concepts.Count > 0 ? new ContextTable(p.Concepts) : null;
        Request(p, table);
    }

    private ImageTokenRequest Request(ImagePrompt p, ContextTable? table)
    {
        var layout = ImageLayout.For(p.Width, p.Height, _ids);
        if (p.Concepts.Count == 0)
            return new ImageTokenRequest(prompt.Build(p.Caption, p.Width, p.Height).Ids, layout, p.Seed, p.Sampling);
        foreach (var c in p.Concepts) ConceptFile.CheckFits(c, model.Config, $"concept '{c.Placeholder}'");
        var placeholders = p.Concepts.Where(c => c.TextSlots > 0).Select(c => new PromptPlaceholder(c.Placeholder, c.TextSlots)).ToList();
        var built = prompt.Build(p.Caption, p.Width, p.Height, placeholders);
        int filler = prompt.SlotFillerId;
        var conditional = ConceptSequence.Build(built, p.Concepts, table!, p.IdentityMask, filler);
        var unconditional = p.UnconditionalImageSlots
            ? ConceptSequence.Build(new PromptTokens([], []), p.Concepts, table!, p.IdentityMask, filler)
            : null;
        return new ImageTokenRequest(conditional.Tokens, layout, p.Seed, p.Sampling) { Conditional = conditional, UnconditionalPrefix = unconditional };
    }

    private Tensor Upload(ContextTable table)
    {
        var t = model.Backend.Allocate(DType.F32, [table.Rows, table.Hidden], "context_table");
        model.Backend.Upload<float>(table.Values(), t);
        return t;
    }
}
