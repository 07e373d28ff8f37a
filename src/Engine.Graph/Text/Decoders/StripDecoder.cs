namespace CoAR.Engine.Graph.Text.Decoders;

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing occurrences of one character from each token.</summary>
internal sealed class StripDecoder(string content, int start, int stop) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens) => tokens.Select(Strip).ToList();

    private string Strip(string token)
    {
        int from = 0;
        for (int i = 0; i < start && token.AsSpan(from).StartsWith(content, StringComparison.Ordinal); i++)
            from += content.Length;
        int to = token.Length;
        for (int i = 0; i < stop && to - content.Length >= from && token.AsSpan(from, to - from).EndsWith(content, StringComparison.Ordinal); i++)
            to -= content.Length;
        return token[from..to];
    }
}
