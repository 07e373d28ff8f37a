namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>Applies pre-tokenizers in order, each on the pieces the previous one produced.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> steps) : IPreTokenizer
{
    public void PreTokenize(List<PreToken> pieces)
    {
        foreach (var step in steps)
            step.PreTokenize(pieces);
    }
}
