namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>One step of tokenizer.json's "pre_tokenizer": splits (and may rewrite) every piece.</summary>
internal interface IPreTokenizer
{
    /// <summary>Replaces <paramref name="pieces"/> by their splits, in order, without empty pieces.</summary>
    void PreTokenize(List<PreToken> pieces);
}
