namespace CoAR.Engine.Graph.Text.Decoders;

/// <summary>
/// Replacement characters become spaces; in the first token they are dropped instead unless the prepend scheme is
/// "never" (the reference drops every one in that token, not only a leading one).
/// </summary>
internal sealed class MetaspaceDecoder(string replacement, bool dropInFirstToken) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
            result.Add(tokens[i].Replace(replacement, i == 0 && dropInFirstToken ? "" : " ", StringComparison.Ordinal));
        return result;
    }
}
