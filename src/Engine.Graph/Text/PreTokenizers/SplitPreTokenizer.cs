using CoAR.Engine.Graph.Text.Json;

namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>Splits every piece at the matches of a String or Regex pattern (also Whitespace's inverted regex).</summary>
internal sealed class SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) : IPreTokenizer
{
    public void PreTokenize(List<PreToken> pieces)
    {
        var matches = new List<(int Start, int End)>();
        PreTokenList.SplitEach(pieces, (piece, output) =>
        {
            matches.Clear();
            pattern.FindMatches(piece.Text, matches);
            PieceSplitter.Split(piece, matches, behavior, invert, output);
        });
    }
}
