using System.Text.Json;
using System.Text.Json.Serialization;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// What made an image, so it can be reproduced and traced: the JSON written beside each PNG by `coar generate`, and
/// returned with each image by `coar serve` (snake_case names, <see cref="JsonOptions"/>).
/// </summary>
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
    /// <summary>Snake_case names, indented, nulls left out; source-generated (<see cref="ImageSidecarJson"/>), so NativeAOT hosts need no reflection.</summary>
    public static JsonSerializerOptions JsonOptions => ImageSidecarJson.Default.Options;

    /// <summary>The concepts used (as their files or names were given).</summary>
    public string[] Concepts { get; init; } = [];

    /// <summary>The LoRA adapters used (as given), null when none.</summary>
    public string[]? Lora { get; init; }

    /// <summary>How the adapters were applied: "unmerged" or "merged"; null when none.</summary>
    public string? LoraMode { get; init; }

    /// <summary>The fine-tuned projection weights that replaced the loaded ones (as given), null when none.</summary>
    public string? Projections { get; init; }

    /// <summary>The reference images in the prompt (their sources, "=PLACEHOLDER" where one shows a concept, in prompt order); left out when there are none.</summary>
    public string[]? References { get; init; }

    /// <summary>False when the prompt was the whole human turn, without the text-to-image instruction; left out otherwise.</summary>
    public bool? Instruction { get; init; }

    public static ImageSidecar From(GeneratedImage image, string model, string fingerprint, string device) => new(
        image.Prompt.Caption, image.Prompt.Seed, image.Prompt.Width, image.Prompt.Height, image.Prompt.Sampling.Cfg,
        image.Prompt.Sampling.ImageTopK, image.Prompt.Sampling.Temperature, model, fingerprint, device, image.PromptTokens.Length,
        image.Tokens, image.Timings.Prefill.TotalSeconds, image.Timings.Decode.TotalSeconds, image.Timings.TokensPerSecond,
        image.DecodeTime.TotalSeconds, typeof(ImageSidecar).Assembly.GetName().Version?.ToString() ?? "dev")
    {
        References = image.Prompt.References.Count > 0 ? image.Prompt.References.Select(r => r.Owner is null ? r.Source : $"{r.Source}={r.Owner}").ToArray() : null,
        Instruction = image.Prompt.Instruction ? null : false,
    };

    public string ToJson() => JsonSerializer.Serialize(this, ImageSidecarJson.Default.ImageSidecar);
}

/// <summary>The sidecar's JSON contract, generated at compile time.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImageSidecar))]
internal sealed partial class ImageSidecarJson : JsonSerializerContext;
