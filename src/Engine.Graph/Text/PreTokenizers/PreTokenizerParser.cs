using System.Text;
using CoAR.Engine.Graph.Text.Json;

namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>Builds the "pre_tokenizer" of a tokenizer.json.</summary>
internal static class PreTokenizerParser
{
    public const string Supported = "Sequence, ByteLevel, Metaspace, Split, Whitespace, WhitespaceSplit, Digits, Punctuation";

    // The Whitespace pre-tokenizer keeps runs of word characters and runs of other non-space characters. The class
    // spells out what the reference's Rust \w means (letters, marks, decimal and letter numbers, connectors, joiners).
    private const string WordClass = @"\p{L}\p{M}\p{Nd}\p{Nl}\p{Pc}\u200C\u200D";
    private const string WhitespacePattern = "[" + WordClass + "]+|[^" + WordClass + @"\s]+";

    public static IPreTokenizer Parse(JsonCursor cursor)
    {
        string type = cursor.ComponentType();
        return type switch
        {
            "Sequence" => new SequencePreTokenizer(cursor.Required("pretokenizers").Items().Select(Parse).ToArray()),
            "ByteLevel" => new ByteLevelPreTokenizer(cursor.OptionalBool("add_prefix_space", true), cursor.OptionalBool("use_regex", true)),
            "Metaspace" => ParseMetaspace(cursor),
            "Split" => new SplitPreTokenizer(TextPattern.Parse(cursor.Required("pattern")), ParseBehavior(cursor.Required("behavior")),
                cursor.OptionalBool("invert", false)),
            "Whitespace" => new SplitPreTokenizer(TextPattern.Regex(WhitespacePattern), SplitBehavior.Removed, invert: true),
            "WhitespaceSplit" => new CharClassPreTokenizer(Rune.IsWhiteSpace, SplitBehavior.Removed),
            "Digits" => new CharClassPreTokenizer(Rune.IsNumber,
                cursor.OptionalBool("individual_digits", false) ? SplitBehavior.Isolated : SplitBehavior.Contiguous),
            "Punctuation" => new CharClassPreTokenizer(IsPunctuation,
                cursor.Optional("behavior") is { } behavior ? ParseBehavior(behavior) : SplitBehavior.Isolated),
            _ => throw cursor.Error($"unsupported pre-tokenizer type \"{type}\" (supported: {Supported})"),
        };
    }

    /// <summary>Metaspace's prepend scheme; files older than prepend_scheme say add_prefix_space instead.</summary>
    public static MetaspacePrependScheme ParsePrependScheme(JsonCursor cursor)
    {
        if (cursor.Optional("prepend_scheme") is { } scheme)
        {
            return scheme.GetString() switch
            {
                "always" => MetaspacePrependScheme.Always,
                "first" => MetaspacePrependScheme.First,
                "never" => MetaspacePrependScheme.Never,
                var other => throw scheme.Error($"expected \"always\", \"first\" or \"never\", found \"{other}\""),
            };
        }
        return cursor.OptionalBool("add_prefix_space", true) ? MetaspacePrependScheme.Always : MetaspacePrependScheme.Never;
    }

    private static MetaspacePreTokenizer ParseMetaspace(JsonCursor cursor) =>
        new(cursor.RequiredCharacter("replacement"), ParsePrependScheme(cursor), cursor.OptionalBool("split", true));

    private static SplitBehavior ParseBehavior(JsonCursor cursor)
    {
        string name = cursor.GetString();
        return Enum.GetNames<SplitBehavior>().Contains(name)
            ? Enum.Parse<SplitBehavior>(name)
            : throw cursor.Error($"expected one of {string.Join(", ", Enum.GetNames<SplitBehavior>())}, found \"{name}\"");
    }

    // Unicode punctuation (P*) plus ASCII symbols such as $ + < = > ^ ` | ~, as the reference's is_ascii_punctuation.
    private static bool IsPunctuation(Rune rune) =>
        Rune.IsPunctuation(rune) || (rune.Value is > 0x20 and < 0x7F && !char.IsAsciiLetterOrDigit((char)rune.Value));
}
