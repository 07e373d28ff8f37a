namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>Helpers for pre-tokenizers that map each piece to zero or more pieces.</summary>
internal static class PreTokenList
{
    public static void SplitEach(List<PreToken> pieces, Action<PreToken, List<PreToken>> split)
    {
        var output = new List<PreToken>(pieces.Count * 2);
        foreach (var piece in pieces)
            split(piece, output);
        pieces.Clear();
        foreach (var piece in output)
        {
            if (piece.Text.Length > 0)
                pieces.Add(piece);
        }
    }
}
