using System.Text.Json;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>The JSON file written beside each PNG: what made it, so the image can be reproduced and traced.</summary>
public sealed record ImageSidecar(
    string Prompt,
    ulong Seed,
    int Width,
    int Height,
    float Cfg,
    int TopK,
    float Temperature,
    string Model,
    string ModelFingerprint,
    string Device,
    int PromptTokens,
    int[] ImageTokens,
    double PrefillSeconds,
    double DecodeSeconds,
    double TokensPerSecond,
    double VqganSeconds,
    string Engine)
{
    /// <summary>The concept files used (as given on the command line).</summary>
    public string[] Concepts { get; init; } = [];

    public static ImageSidecar From(GeneratedImage image, string model, string fingerprint, string device) => new(
        image.Prompt.Caption, image.Prompt.Seed, image.Prompt.Width, image.Prompt.Height, image.Prompt.Sampling.Cfg,
        image.Prompt.Sampling.ImageTopK, image.Prompt.Sampling.Temperature, model, fingerprint, device, image.PromptTokens.Length,
        image.Tokens, image.Timings.Prefill.TotalSeconds, image.Timings.Decode.TotalSeconds, image.Timings.TokensPerSecond,
        image.DecodeTime.TotalSeconds, typeof(ImageSidecar).Assembly.GetName().Version?.ToString() ?? "dev");

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, CliJson.Options));
}
