using CoAR.Engine.Graph.Concepts;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// One image to make: its caption, size in pixels, the seed that reproduces it, and how to sample. With concepts, each
/// is bound to its placeholder in the caption ("a photo of [V] dog in [S] style"); with the identity mask (default),
/// different concepts' tokens never attend to each other. With reference images, each goes where a
/// <c>&lt;|image|&gt;</c> stands in the caption (one image per symbol), or before the instruction when the caption has none.
/// </summary>
public sealed record ImagePrompt(string Caption, int Width, int Height, ulong Seed, SamplingSettings Sampling)
{
    public IReadOnlyList<Concept> Concepts { get; init; } = [];
    public bool IdentityMask { get; init; } = true;

    /// <summary>
    /// Wrap the caption in Lumina-mGPT's text-to-image instruction ("Generate an image of WxH according to the following
    /// prompt:\n"; default); false: the caption is the whole human turn, as the image-conditioned tasks write it.
    /// </summary>
    public bool Instruction { get; init; } = true;

    /// <summary>Add the concepts' token-index embeddings (those that have one) to their sources; on by default.</summary>
    public bool IndexEmbeddings { get; init; } = true;

    /// <summary>Images in the prompt (see <see cref="ReferenceImage"/>; <c>CoarEngine.EncodeReference</c> makes them).</summary>
    public IReadOnlyList<ReferenceImage> References { get; init; } = [];

    /// <summary>Also give the unconditional (CFG) row the concepts' image slots; off by default (the reference's row).</summary>
    public bool UnconditionalImageSlots { get; init; }
}
