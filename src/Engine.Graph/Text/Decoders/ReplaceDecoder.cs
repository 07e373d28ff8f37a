using CoAR.Engine.Graph.Text.Json;

namespace CoAR.Engine.Graph.Text.Decoders;

/// <summary>Replaces every match of a String or Regex pattern in each token by a literal content.</summary>
internal sealed class ReplaceDecoder(TextPattern pattern, string content) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens) => tokens.Select(t => pattern.ReplaceAll(t, content)).ToList();
}
