namespace CoAR.Engine.Graph.Text.Normalizers;

/// <summary>
/// Per-character lowercase, as the reference's char::to_lowercase: simple case mapping plus the one unconditional
/// multi-character mapping (U+0130 to "i" + U+0307), and no word-final sigma rule.
/// </summary>
internal sealed class LowercaseNormalizer : ITextNormalizer
{
    public string Normalize(string text) =>
        text.Replace("\u0130", "i\u0307", StringComparison.Ordinal).ToLowerInvariant();
}
