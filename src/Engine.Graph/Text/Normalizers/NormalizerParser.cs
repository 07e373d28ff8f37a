using System.Text;
using CoAR.Engine.Graph.Text.Json;

namespace CoAR.Engine.Graph.Text.Normalizers;

/// <summary>Builds the "normalizer" of a tokenizer.json.</summary>
internal static class NormalizerParser
{
    public const string Supported = "Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip";

    public static ITextNormalizer Parse(JsonCursor cursor)
    {
        string type = cursor.ComponentType();
        return type switch
        {
            "Sequence" => new SequenceNormalizer(cursor.Required("normalizers").Items().Select(Parse).ToArray()),
            "NFC" => new UnicodeFormNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeFormNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeFormNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeFormNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Prepend" => new PrependNormalizer(cursor.RequiredString("prepend")),
            "Replace" => new ReplaceNormalizer(TextPattern.Parse(cursor.Required("pattern")), cursor.RequiredString("content")),
            "Strip" => new StripNormalizer(cursor.OptionalBool("strip_left", true), cursor.OptionalBool("strip_right", true)),
            _ => throw cursor.Error($"unsupported normalizer type \"{type}\" (supported: {Supported})"),
        };
    }
}
