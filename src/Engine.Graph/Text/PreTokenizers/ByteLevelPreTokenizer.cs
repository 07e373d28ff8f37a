using CoAR.Engine.Graph.Text.Json;

namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>
/// GPT-2 byte level: optionally prefixes a space to every piece that lacks one, optionally splits it with the GPT-2
/// regex, then spells every UTF-8 byte as its printable stand-in character. trim_offsets only affects offsets, which
/// the engine does not produce.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex) : IPreTokenizer
{
    private static readonly TextPattern Gpt2Split = TextPattern.Regex(ByteLevelAlphabet.Gpt2SplitPattern);

    public void PreTokenize(List<PreToken> pieces)
    {
        var matches = new List<(int Start, int End)>();
        PreTokenList.SplitEach(pieces, (piece, output) =>
        {
            if (addPrefixSpace && !piece.Text.StartsWith(' '))
                piece = piece with { Text = " " + piece.Text };
            if (!useRegex)
            {
                output.Add(piece);
                return;
            }
            matches.Clear();
            Gpt2Split.FindMatches(piece.Text, matches);
            PieceSplitter.Split(piece, matches, SplitBehavior.Isolated, invert: false, output);
        });
        for (int i = 0; i < pieces.Count; i++)
            pieces[i] = pieces[i] with { Text = ByteLevelAlphabet.Encode(pieces[i].Text) };
    }
}
