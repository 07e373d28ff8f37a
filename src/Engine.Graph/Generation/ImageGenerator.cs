using System.Diagnostics;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;

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

    /// <summary>Generates the images together (see <see cref="ImageTokenGenerator"/>), and decodes them.</summary>
    public IReadOnlyList<GeneratedImage> Generate(IReadOnlyList<ImagePrompt> prompts,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellation = default)
    {
        var requests = prompts.Select(Prepare).ToList();
        var results = _tokens.Generate(requests, progress, cancellation);
        var images = new List<GeneratedImage>(results.Count);
        for (int i = 0; i < results.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            images.Add(Decode(prompts[i], requests[i], results[i]));
        }
        return images;
    }

    /// <summary>
    /// Checks a prompt without generating: size, placeholders bound and present, concepts fitting the model. Throws
    /// ArgumentException naming what is wrong.
    /// </summary>
    public void Check(ImagePrompt p) => Prepare(p);

    /// <summary>The token request of a prompt (tokenized, concepts bound); an ArgumentException naming what is wrong.</summary>
    public ImageTokenRequest Prepare(ImagePrompt p)
    {
        var layout = ImageLayout.For(p.Width, p.Height, _ids);
        var references = p.References.Select(r => r.Tokens).ToList();
        if (p.Concepts.Count == 0)
        {
            if (p.References.FirstOrDefault(r => r.Owner is not null) is { } owned)
                throw new ArgumentException($"reference image {owned.Source} belongs to {owned.Owner}, but no concept is given");
            return new ImageTokenRequest(prompt.Build(p.Caption, p.Width, p.Height, images: references, instruction: p.Instruction).Ids, layout, p.Seed, p.Sampling);
        }
        foreach (var c in p.Concepts) ConceptFile.CheckFits(c, model.Config, $"concept '{c.Placeholder}'");
        var table = new ContextTable(p.Concepts);
        var placeholders = p.Concepts.Where(c => c.TextSlots > 0).Select(c => new PromptPlaceholder(c.Placeholder, c.TextSlots)).ToList();
        var built = prompt.Build(p.Caption, p.Width, p.Height, placeholders, references, p.Instruction);
        int filler = prompt.SlotFillerId;
        var conditional = ConceptSequence.Build(built, p.Concepts, table, p.IdentityMask, filler, indexEmbeddings: p.IndexEmbeddings,
            imageOwners: p.References.Select(r => r.Owner).ToList());
        var unconditional = p.UnconditionalImageSlots
            ? ConceptSequence.Build(new PromptTokens([], []), p.Concepts, table, p.IdentityMask, filler, indexEmbeddings: p.IndexEmbeddings)
            : null;
        return new ImageTokenRequest(conditional.Tokens, layout, p.Seed, p.Sampling)
        {
            Conditional = conditional, UnconditionalPrefix = unconditional, Context = table,
        };
    }

    /// <summary>The image of generated tokens: the VQGAN decoder's pixels, with what made them.</summary>
    public GeneratedImage Decode(ImagePrompt p, ImageTokenRequest request, ImageTokenResult result)
    {
        var clock = Stopwatch.StartNew();
        var layout = result.Layout;
        var pixels = vqgan.Decode(result.Codes, layout.LatentHeight, layout.LatentWidth);
        var image = ImagePostprocessor.FromDecoderOutput(pixels, layout.WidthPx, layout.HeightPx);
        return new GeneratedImage(p, image, result.Tokens, request.PromptTokens, result.Timings, clock.Elapsed);
    }
}
