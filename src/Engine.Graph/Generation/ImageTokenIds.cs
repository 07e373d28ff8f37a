namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// The token ids that frame an image in a Chameleon sequence. The defaults are Lumina-mGPT 7B's; a vocabulary that
/// names them differently builds its own (see ChameleonVocabulary).
/// </summary>
public sealed record ImageTokenIds(int ImageStart, int ImageEnd, int NewLine, int EndOfTurn, int SizeBase, int FirstCode, int CodeCount)
{
    /// <summary>&lt;racm3:break&gt; 8197, &lt;eoss&gt; 8196, new line 8803, end of turn 8710, size tokens 8804 + n, codes 4..8195.</summary>
    public static ImageTokenIds Chameleon { get; } = new(8197, 8196, 8803, 8710, 8804, 4, 8192);

    public bool IsCode(int id) => id >= FirstCode && id < FirstCode + CodeCount;
}
