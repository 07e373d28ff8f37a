using CoAR.Engine.Graph.Text.Json;

namespace CoAR.Engine.Graph.Text.Normalizers;

/// <summary>Replaces every match of a String or Regex pattern by a literal content.</summary>
internal sealed class ReplaceNormalizer(TextPattern pattern, string content) : ITextNormalizer
{
    public string Normalize(string text) => pattern.ReplaceAll(text, content);
}
