using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// An image placed in a prompt (Lumina-mGPT's <c>&lt;|image|&gt;</c>): VQGAN-encoded once and laid out as the
/// reference's item processor builds it, <c>8197, 8804 + H/32, 8804 + W/32</c>, then H/16 rows of W/16 codes each
/// ended by a new line (8803), then <c>8196</c>; no end of turn (the turn goes on with the text after it).
/// <see cref="Source"/> names it in errors and sidecars.
/// </summary>
public sealed record ReferenceImage(string Source, ImageLayout Layout, int[] Tokens)
{
    /// <summary>
    /// The placeholder of the concept the image shows, or null: that concept's token-index embedding (if it has one) is
    /// added to every token of the image, TokenAR's per-reference index.
    /// </summary>
    public string? Owner { get; init; }

    /// <summary>The tokens of an image already encoded into <paramref name="codes"/> (row-major, h outer).</summary>
    public static ReferenceImage FromCodes(string source, ImageLayout layout, ReadOnlySpan<int> codes) =>
        new(source, layout, [.. layout.Header, .. layout.Body(codes), layout.Ids.ImageEnd]);

    /// <summary>
    /// Crops <paramref name="image"/> to its best Lumina size for <paramref name="targetSize"/> (the center crop; the
    /// reference draws a random offset, which an inference prompt has no use for) and encodes it with the VQGAN.
    /// An image more elongated than the crop sizes allow is an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public static ReferenceImage Encode(RgbImage image, string source, int targetSize, VqganModel vqgan, ImageTokenIds ids)
    {
        var input = ImagePreprocessor.Preprocess(image, targetSize, sourceName: source);
        return FromCodes(source, ImageLayout.For(input.Width, input.Height, ids), vqgan.Encode(input));
    }
}
