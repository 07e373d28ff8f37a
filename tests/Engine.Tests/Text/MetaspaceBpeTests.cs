using System.Text.Json.Nodes;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class MetaspaceBpeTests
{
    // SentencePiece style: <unk>, the 256 byte tokens <0xNN>, "▁", letters, merges to "▁hello" and "▁world".
    internal static TokenizerJsonFixture Fixture(string prependScheme = "always", bool byteFallback = true, bool mergesAsPairs = true,
        JsonNode? decoder = null)
    {
        var f = new TokenizerJsonFixture
        {
            MergesAsPairs = mergesAsPairs,
            PreTokenizer = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = prependScheme, ["split"] = true },
            Decoder = decoder ?? new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = prependScheme, ["split"] = true },
        };
        f.ModelOptions["unk_token"] = "<unk>";
        f.ModelOptions["byte_fallback"] = byteFallback;
        f.Token("<unk>");
        for (int b = 0; b < 256; b++)
            f.Token($"<0x{b:X2}>");
        foreach (string letter in new[] { "▁", "h", "e", "l", "o", "w", "r", "d" })
            f.Token(letter);
        f.Merge("h", "e");
        f.Merge("l", "l");
        f.Merge("ll", "o");
        f.Merge("▁", "he");
        f.Merge("▁he", "llo");
        f.Merge("▁", "w");
        f.Merge("o", "r");
        f.Merge("▁w", "or");
        f.Merge("▁wor", "l");
        f.Merge("▁worl", "d");
        return f;
    }

    // Llama's decoder: ▁ to space, byte tokens to text, join, drop the one leading space.
    private static JsonNode LlamaDecoder() => new JsonObject
    {
        ["type"] = "Sequence",
        ["decoders"] = new JsonArray(
            new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
            new JsonObject { ["type"] = "ByteFallback" },
            new JsonObject { ["type"] = "Fuse" },
            new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
    };

    [TestCase(true)]
    [TestCase(false)]
    public void SpacesBecomeMetaspaceAndWordsMerge(bool mergesAsPairs)
    {
        var f = Fixture(mergesAsPairs: mergesAsPairs);
        Assert.That(f.Build().Encode("hello world"), Is.EqualTo(new[] { f.Id("▁hello"), f.Id("▁world") }));
    }

    [Test]
    public void SpaceRunsSplitBeforeEveryMetaspace()
    {
        var f = Fixture();
        // "▁hello▁▁▁world" -> "▁hello", "▁", "▁", "▁world".
        Assert.That(f.Build().Encode("hello   world"),
            Is.EqualTo(new[] { f.Id("▁hello"), f.Id("▁"), f.Id("▁"), f.Id("▁world") }));
    }

    [Test]
    public void UnknownCharactersFallBackToBytes()
    {
        var f = Fixture();
        // é is not in the vocabulary: its UTF-8 bytes C3 A9 as <0xC3> <0xA9>.
        Assert.That(f.Build().Encode("hé"), Is.EqualTo(new[] { f.Id("▁"), f.Id("h"), f.Id("<0xC3>"), f.Id("<0xA9>") }));
    }

    [Test]
    public void WithoutByteFallbackUnknownCharactersAreUnk()
    {
        var f = Fixture(byteFallback: false);
        Assert.That(f.Build().Encode("hé€"), Is.EqualTo(new[] { f.Id("▁"), f.Id("h"), f.Id("<unk>"), f.Id("<unk>") }));
        f.ModelOptions["fuse_unk"] = true;
        Assert.That(f.Build().Encode("hé€"), Is.EqualTo(new[] { f.Id("▁"), f.Id("h"), f.Id("<unk>") }));
    }

    [Test]
    public void PrependSchemeFirstSkipsPiecesAfterAnAddedToken()
    {
        var first = Fixture("first");
        int bos = first.AddedToken("<s>");
        Assert.That(first.Build().Encode("hello<s>hello"),
            Is.EqualTo(new[] { first.Id("▁hello"), bos, first.Id("he"), first.Id("llo") }));
        Assert.That(first.Build().Encode("hello", isTextStart: false), Is.EqualTo(new[] { first.Id("he"), first.Id("llo") }));

        var always = Fixture("always");
        bos = always.AddedToken("<s>");
        Assert.That(always.Build().Encode("hello<s>hello"), Is.EqualTo(new[] { always.Id("▁hello"), bos, always.Id("▁hello") }));

        var never = Fixture("never");
        Assert.That(never.Build().Encode("hello"), Is.EqualTo(new[] { never.Id("he"), never.Id("llo") }));
    }

    [Test]
    public void LegacyAddPrefixSpaceFalseMeansNever()
    {
        var f = Fixture();
        f.PreTokenizer = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["add_prefix_space"] = false };
        Assert.That(f.Build().Encode("hello"), Is.EqualTo(new[] { f.Id("he"), f.Id("llo") }));
    }

    [TestCase("hello world")]
    [TestCase("hé wörld 日本 🐶")]
    [TestCase("two  spaces")]
    public void LlamaDecoderInvertsEncode(string text)
    {
        var tokenizer = Fixture(decoder: LlamaDecoder()).Build();
        Assert.That(tokenizer.Decode(tokenizer.Encode(text).ToArray()), Is.EqualTo(text));
    }

    [Test]
    public void MetaspaceDecoderDropsTheFirstTokensMetaspace()
    {
        var tokenizer = Fixture().Build();
        Assert.That(tokenizer.Decode(tokenizer.Encode("hello world").ToArray()), Is.EqualTo("hello world"));
        var never = Fixture("never").Build();
        Assert.That(never.Decode(never.Encode(" hello").ToArray()), Is.EqualTo(" hello"));
    }

    [Test]
    public void ByteFallbackDecoderReplacesInvalidBytes()
    {
        var f = Fixture(decoder: LlamaDecoder());
        var tokenizer = f.Build();
        // A lone lead byte C3 is not UTF-8: one U+FFFD per byte token.
        Assert.That(tokenizer.Decode([f.Id("▁he"), f.Id("<0xC3>"), f.Id("l")]), Is.EqualTo("he\uFFFDl"));
    }
}
