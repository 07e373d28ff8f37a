using CoAR.Engine.Graph.Concepts;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// One image to generate: the conditional prompt's tokens (BOS and text, without the image header), its size and
/// seed; with concepts, the prompt's identity tags and context-token slots, the tokens the unconditional row gets
/// before its header (an image slot, when asked for), and the table of context tokens their slots read.
/// </summary>
public sealed record ImageTokenRequest(int[] PromptTokens, ImageLayout Layout, ulong Seed, SamplingSettings Settings)
{
    public ConceptSequence? Conditional { get; init; }
    public ConceptSequence? UnconditionalPrefix { get; init; }

    /// <summary>The concepts' context tokens that the injections of <see cref="Conditional"/> and <see cref="UnconditionalPrefix"/> index.</summary>
    public ContextTable? Context { get; init; }

    /// <summary>KV-cache rows the image takes: its conditional row, and an unconditional one when guided.</summary>
    public int Rows => Settings.UsesGuidance ? 2 : 1;

    /// <summary>Tokens its prefill runs: the prompt and header, and (guided) the unconditional prefix and header.</summary>
    public int PrefillTokens => PromptTokens.Length + 3 + (Settings.UsesGuidance ? (UnconditionalPrefix?.Tokens.Length ?? 0) + 3 : 0);

    /// <summary>Positions its longest row needs in the KV cache.</summary>
    public int Positions => Math.Max(PromptTokens.Length, UnconditionalPrefix?.Tokens.Length ?? 0) + Layout.SequenceLength;
}

/// <summary>
/// The image-phase tokens of one generated image (header, body, end of image, end of turn), the seed that
/// reproduces them, and where the image's own time went.
/// </summary>
public sealed record ImageTokenResult(int[] Tokens, ulong Seed, ImageLayout Layout, GenerationTimings Timings)
{
    public int[] Codes => Layout.Codes(Tokens);
}

/// <summary>How far a batch has come: decode steps done of the longest image, image tokens produced so far.</summary>
public readonly record struct GenerationProgress(int Step, int Steps, long TokensDone, long TokensTotal, TimeSpan Elapsed);

/// <summary>
/// Where one image's time went: the forward that ran its prompt (shared with whatever ran beside it), then its decode
/// steps until its last body token; <see cref="Tokens"/> body tokens in <see cref="Steps"/> steps.
/// </summary>
public sealed record GenerationTimings(TimeSpan Prefill, TimeSpan Decode, int Steps, long Tokens)
{
    public double TokensPerSecond => Decode.TotalSeconds > 0 ? Tokens / Decode.TotalSeconds : 0;
}
