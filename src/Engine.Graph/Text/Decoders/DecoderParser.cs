using CoAR.Engine.Graph.Text.Json;
using CoAR.Engine.Graph.Text.PreTokenizers;

namespace CoAR.Engine.Graph.Text.Decoders;

/// <summary>Builds the "decoder" of a tokenizer.json.</summary>
internal static class DecoderParser
{
    public const string Supported = "Sequence, ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace";

    public static ITokenDecoder Parse(JsonCursor cursor)
    {
        string type = cursor.ComponentType();
        return type switch
        {
            "Sequence" => new SequenceDecoder(cursor.Required("decoders").Items().Select(Parse).ToArray()),
            "ByteLevel" => new ByteLevelDecoder(),
            "Metaspace" => new MetaspaceDecoder(cursor.RequiredCharacter("replacement"),
                PreTokenizerParser.ParsePrependScheme(cursor) != MetaspacePrependScheme.Never),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => ParseStrip(cursor),
            "Replace" => new ReplaceDecoder(TextPattern.Parse(cursor.Required("pattern")), cursor.RequiredString("content")),
            _ => throw cursor.Error($"unsupported decoder type \"{type}\" (supported: {Supported})"),
        };
    }

    private static StripDecoder ParseStrip(JsonCursor cursor)
    {
        string content = cursor.RequiredCharacter("content");
        int start = cursor.OptionalInt("start", 0), stop = cursor.OptionalInt("stop", 0);
        if (start < 0 || stop < 0)
            throw cursor.Error($"start and stop must not be negative, found start {start}, stop {stop}");
        return new StripDecoder(content, start, stop);
    }
}
