namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>
/// SentencePiece style: spaces become the replacement character (usually "▁"), which is prepended to the piece
/// according to the prepend scheme, and the piece is split before every replacement character.
/// </summary>
internal sealed class MetaspacePreTokenizer(string replacement, MetaspacePrependScheme scheme, bool split) : IPreTokenizer
{
    public void PreTokenize(List<PreToken> pieces)
    {
        var matches = new List<(int Start, int End)>();
        PreTokenList.SplitEach(pieces, (piece, output) =>
        {
            string text = piece.Text.Replace(" ", replacement, StringComparison.Ordinal);
            bool prepend = scheme switch
            {
                MetaspacePrependScheme.Always => true,
                MetaspacePrependScheme.First => piece.AtTextStart,
                _ => false,
            };
            if (prepend && !text.StartsWith(replacement, StringComparison.Ordinal))
                text = replacement + text;
            piece = piece with { Text = text };
            if (!split)
            {
                output.Add(piece);
                return;
            }
            matches.Clear();
            for (int at = 0; (at = text.IndexOf(replacement, at, StringComparison.Ordinal)) >= 0; at += replacement.Length)
                matches.Add((at, at + replacement.Length));
            PieceSplitter.Split(piece, matches, SplitBehavior.MergedWithNext, invert: false, output);
        });
    }
}
