using System.Text;

namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>
/// Splits at every character of a class, each such character being one delimiter match (WhitespaceSplit, Digits,
/// Punctuation).
/// </summary>
internal sealed class CharClassPreTokenizer(Func<Rune, bool> isDelimiter, SplitBehavior behavior) : IPreTokenizer
{
    public void PreTokenize(List<PreToken> pieces)
    {
        var matches = new List<(int Start, int End)>();
        PreTokenList.SplitEach(pieces, (piece, output) =>
        {
            matches.Clear();
            int at = 0;
            foreach (var rune in piece.Text.EnumerateRunes())
            {
                if (isDelimiter(rune))
                    matches.Add((at, at + rune.Utf16SequenceLength));
                at += rune.Utf16SequenceLength;
            }
            PieceSplitter.Split(piece, matches, behavior, invert: false, output);
        });
    }
}
