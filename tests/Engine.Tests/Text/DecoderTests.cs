using System.Text.Json;
using CoAR.Engine.Graph.Text.Decoders;
using CoAR.Engine.Graph.Text.Json;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class DecoderTests
{
    private static string[] Decode(string json, params string[] tokens)
    {
        using var document = JsonDocument.Parse(json);
        var decoder = DecoderParser.Parse(new JsonCursor(document.RootElement, "$.decoder", "test"));
        return decoder.DecodeChain(tokens.ToList()).ToArray();
    }

    [Test]
    public void StripRemovesUpToCountOccurrences()
    {
        Assert.That(Decode("""{"type": "Strip", "content": "H", "start": 1, "stop": 0}""", "Hey", " friend!", "HHH"),
            Is.EqualTo(new[] { "ey", " friend!", "HH" }));
        Assert.That(Decode("""{"type": "Strip", "content": "y", "start": 0, "stop": 1}""", "Hey", "yy"),
            Is.EqualTo(new[] { "He", "y" }));
    }

    [Test]
    public void ByteFallbackJoinsByteRunsIntoText()
    {
        Assert.That(Decode("""{"type": "ByteFallback"}""", "<0xE5>", "<0x8f>", "<0xab>", "a", "<0xE5>"),
            Is.EqualTo(new[] { "叫", "a", "\uFFFD" }));
    }

    [Test]
    public void ByteLevelUsesRawBytesOfForeignTokens()
    {
        // "<s>" is spelled in byte-level characters already; "日" is not, so its own UTF-8 is used.
        Assert.That(Decode("""{"type": "ByteLevel"}""", "ĠHello", "<s>", "日", "Ċ"), Is.EqualTo(new[] { " Hello<s>日\n" }));
    }

    [Test]
    public void RegexReplaceThenFuse()
    {
        const string json = """
            {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"Regex": "_+"}, "content": " "},
                {"type": "Fuse"}]}
            """;
        Assert.That(Decode(json, "a__b", "_c"), Is.EqualTo(new[] { "a b c" }));
    }

    [Test]
    public void MetaspaceDecoderNeverKeepsTheFirstSpace()
    {
        const string json = """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never"}""";
        Assert.That(Decode(json, "▁Hey", "▁friend!"), Is.EqualTo(new[] { " Hey", " friend!" }));
    }
}
