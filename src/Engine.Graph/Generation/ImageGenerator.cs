using System.Diagnostics;
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

    /// <summary>Generates the images in one lock-step batch (all guided, or all with cfg 1).</summary>
    public IReadOnlyList<GeneratedImage> Generate(IReadOnlyList<ImagePrompt> prompts,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellation = default)
    {
        var requests = prompts.Select(p =>
        {
            var layout = ImageLayout.For(p.Width, p.Height, _ids);
            var tokens = prompt.Build(p.Caption, p.Width, p.Height);
            return new ImageTokenRequest(tokens.Ids, layout, p.Seed, p.Sampling);
        }).ToList();
        var results = _tokens.Generate(requests, progress, cancellation);
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
}
