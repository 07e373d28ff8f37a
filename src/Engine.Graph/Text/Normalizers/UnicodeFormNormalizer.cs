using System.Text;
using CoAR.Engine.Graph.Text.Unicode;

namespace CoAR.Engine.Graph.Text.Normalizers;

/// <summary>NFC, NFD, NFKC or NFKD.</summary>
internal sealed class UnicodeFormNormalizer(NormalizationForm form) : ITextNormalizer
{
    public string Normalize(string text) => UnicodeNormalization.Normalize(text, form);
}
