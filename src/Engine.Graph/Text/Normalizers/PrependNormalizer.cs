namespace CoAR.Engine.Graph.Text.Normalizers;

/// <summary>Prepends a fixed string to every non-empty piece (Llama-style "▁").</summary>
internal sealed class PrependNormalizer(string prefix) : ITextNormalizer
{
    public string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}
