using System.Text.Json.Nodes;
using CoAR.Engine.Graph.Text;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class NormalizerTests
{
    // A tokenizer without pre-tokenizer or merges whose decoder shows the normalized text: the normalizer's output is
    // Decode(Encode(text)).
    private static string Normalize(JsonNode normalizer, string text)
    {
        var f = TokenizerJsonFixture.ByteLevel();
        f.PreTokenizer = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false };
        f.Normalizer = normalizer;
        var tokenizer = f.Build();
        return tokenizer.Decode(tokenizer.Encode(text).ToArray());
    }

    private static JsonObject Type(string type) => new() { ["type"] = type };

    [TestCase("NFC", "e\u0301", "é")]
    [TestCase("NFC", "\u212B", "Å")] // a singleton: Angstrom sign becomes A-ring
    [TestCase("NFC", "\u0958", "\u0915\u093C")] // excluded from composition: stays decomposed
    [TestCase("NFC", "\u1112\u1161\u11AB", "한")] // Hangul jamo compose algorithmically
    [TestCase("NFC", "a\u0302\u0323", "ậ")] // marks reordered (dot below 220 before circumflex 230), then composed
    [TestCase("NFD", "ậ", "a\u0323\u0302")]
    [TestCase("NFD", "한", "\u1112\u1161\u11AB")]
    [TestCase("NFKC", "ﬁ①", "fi1")]
    [TestCase("NFKC", "ｶﾞ", "ガ")] // half-width katakana and voiced mark compose after compatibility mapping
    [TestCase("NFKD", "ｶﾞ", "\u30AB\u3099")]
    [TestCase("NFKD", "x²", "x2")]
    [TestCase("NFC", "plain ascii", "plain ascii")]
    public void UnicodeForms(string form, string input, string expected)
    {
        Assert.That(Normalize(Type(form), input), Is.EqualTo(expected));
    }

    [Test]
    public void LowercaseMapsPerCharacter()
    {
        Assert.That(Normalize(Type("Lowercase"), "HeLLo ΣΑΣ \U00010400 İ"), Is.EqualTo("hello σασ \U00010428 i\u0307"));
    }

    [Test]
    public void PrependReplaceAndStripInSequence()
    {
        var sequence = new JsonObject
        {
            ["type"] = "Sequence",
            ["normalizers"] = new JsonArray(
                new JsonObject { ["type"] = "Strip", ["strip_left"] = true, ["strip_right"] = true },
                new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
        };
        Assert.That(Normalize(sequence, "  a b  "), Is.EqualTo("▁a▁b"));
    }

    [Test]
    public void RegexReplaceTakesTheContentLiterally()
    {
        var replace = new JsonObject
        {
            ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = @"\s+" }, ["content"] = "$1_",
        };
        Assert.That(Normalize(replace, "a  b\t\nc"), Is.EqualTo("a$1_b$1_c"));
    }

    [Test]
    public void OnlyLeftStrip()
    {
        var strip = new JsonObject { ["type"] = "Strip", ["strip_left"] = true, ["strip_right"] = false };
        Assert.That(Normalize(strip, " \t a "), Is.EqualTo("a "));
    }

    [Test]
    public void NormalizerRunsOnEachPieceBetweenAddedTokens()
    {
        var f = TokenizerJsonFixture.ByteLevel();
        f.Normalizer = new JsonObject { ["type"] = "Prepend", ["prepend"] = "_" };
        int bos = f.AddedToken("<s>");
        // The reference normalizes each piece around an added token separately: both pieces get the prefix.
        Assert.That(f.Build().Encode("a<s>b"), Is.EqualTo(new[] { '_', 'a', bos, '_', 'b' }));
    }

    [Test]
    public void UnicodeRegexSplitMatchesSupplementaryDigits()
    {
        // \p{N} must match U+1D7D9 (a digit outside the BMP) as a whole character.
        var split = new JsonObject
        {
            ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = @"\p{N}" }, ["content"] = "#",
        };
        Assert.That(Normalize(split, "a\U0001D7D9b7"), Is.EqualTo("a#b#"));
    }

    [Test]
    public void ByteLevelAlphabetSpellsSpacesAndNewLines()
    {
        Assert.That(ByteLevelAlphabet.Encode(" \n"), Is.EqualTo("ĠĊ"));
        Assert.That(ByteLevelAlphabet.Encode("é"), Is.EqualTo("Ã©"));
    }
}
