namespace CoAR.Engine.Graph.Text.Normalizers;

/// <summary>One step of tokenizer.json's "normalizer": rewrites a piece of text before pre-tokenization.</summary>
internal interface ITextNormalizer
{
    string Normalize(string text);
}
