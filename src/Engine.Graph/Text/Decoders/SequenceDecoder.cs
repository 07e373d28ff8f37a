namespace CoAR.Engine.Graph.Text.Decoders;

/// <summary>Applies decoders in order, each on the token list the previous one produced.</summary>
internal sealed class SequenceDecoder(IReadOnlyList<ITokenDecoder> steps) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        foreach (var step in steps)
            tokens = step.DecodeChain(tokens);
        return tokens;
    }
}
