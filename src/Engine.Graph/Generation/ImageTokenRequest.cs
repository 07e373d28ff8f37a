namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// One image to generate: the conditional prompt's tokens (BOS and text, without the image header), its size and
/// seed; with concepts, the prompt's identity tags and context-token slots, and tokens the unconditional row gets
/// before its header (an image slot, when asked for).
/// </summary>
public sealed record ImageTokenRequest(int[] PromptTokens, ImageLayout Layout, ulong Seed, SamplingSettings Settings)
{
    public Concepts.ConceptSequence? Conditional { get; init; }
    public Concepts.ConceptSequence? UnconditionalPrefix { get; init; }
}

/// <summary>
/// The image-phase tokens of one generated image (header, body, end of image, end of turn) and the seed that
/// reproduces them.
/// </summary>
public sealed record ImageTokenResult(int[] Tokens, ulong Seed, ImageLayout Layout)
{
    public int[] Codes => Layout.Codes(Tokens);
}

/// <summary>How far a batch has come: decode steps done of the longest image, image tokens produced so far.</summary>
public readonly record struct GenerationProgress(int Step, int Steps, long TokensDone, long TokensTotal, TimeSpan Elapsed);

/// <summary>Where the time of a batch went.</summary>
public sealed record GenerationTimings(TimeSpan Prefill, TimeSpan Decode, int Steps, long Tokens)
{
    public double TokensPerSecond => Decode.TotalSeconds > 0 ? Tokens / Decode.TotalSeconds : 0;
}
