using System.Text.Json.Nodes;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class AddedTokenTests
{
    private static TokenizerJsonFixture Fixture()
    {
        var f = TokenizerJsonFixture.ByteLevel();
        f.Merge("h", "i");
        f.Merge("Ġ", "hi");
        return f;
    }

    [Test]
    public void AddedTokensAreCutOutOfTheRawTextWhole()
    {
        var f = Fixture();
        int eot = f.AddedToken("<reserved08706>");
        int bos = f.AddedToken("<s>");
        // The text around the tokens is encoded piece by piece: " hi" keeps its space as Ġhi.
        Assert.That(f.Build().Encode("<s>hi<reserved08706> hi"), Is.EqualTo(new[] { bos, f.Id("hi"), eot, f.Id("Ġhi") }));
    }

    [Test]
    public void LongestAddedTokenWinsAtTheSamePosition()
    {
        var f = Fixture();
        int shortToken = f.AddedToken("<x>");
        int longToken = f.AddedToken("<x><y>");
        var tokenizer = f.Build();
        Assert.That(tokenizer.Encode("<x><y><x>"), Is.EqualTo(new[] { longToken, shortToken }));
        Assert.That(tokenizer.Encode("<x><y"), Is.EqualTo(new[] { shortToken, '<', 'y' }));
    }

    [Test]
    public void LStripAndRStripSwallowNeighbouringWhiteSpace()
    {
        var f = Fixture();
        int mask = f.AddedToken("<mask>", lstrip: true, rstrip: true);
        int plain = f.AddedToken("<sep>");
        var tokenizer = f.Build();
        Assert.That(tokenizer.Encode("hi  <mask>\t hi"), Is.EqualTo(new[] { f.Id("hi"), mask, f.Id("hi") }));
        Assert.That(tokenizer.Encode("hi <sep> hi"), Is.EqualTo(new[] { f.Id("hi"), ' ', plain, f.Id("Ġhi") }));
    }

    [Test]
    public void SingleWordTokensOnlyMatchBetweenNonWordCharacters()
    {
        var f = Fixture();
        int word = f.AddedToken("hi", special: false, normalized: false, singleWord: true, inVocabulary: false);
        var tokenizer = f.Build();
        Assert.That(tokenizer.Encode("hi, hi"), Is.EqualTo(new[] { word, ',', ' ', word }));
        Assert.That(tokenizer.Encode("chip"), Is.EqualTo(new[] { 'c', f.Id("hi"), 'p' }), "inside a word it is ordinary text");
    }

    [Test]
    public void NormalizedAddedTokensMatchTheNormalizedText()
    {
        var f = Fixture();
        f.Normalizer = new JsonObject { ["type"] = "Lowercase" };
        int yes = f.AddedToken("YES", special: false, normalized: true, inVocabulary: false);
        int raw = f.AddedToken("RAW", special: true, normalized: false, inVocabulary: false);
        var tokenizer = f.Build();
        // "YES" is matched after lowercasing, as "yes" (its own content normalized); "RAW" only matches the raw text.
        Assert.That(tokenizer.Encode("Yes RAW raw"), Is.EqualTo(new[] { yes, ' ', raw, ' ', 'r', 'a', 'w' }));
        Assert.That(tokenizer.VocabSize, Is.EqualTo(raw + 1));
        Assert.That(tokenizer.IdToToken(yes), Is.EqualTo("YES"));
    }

    [Test]
    public void SpecialTokensCanBeSkippedWhenDecoding()
    {
        var f = Fixture();
        int bos = f.AddedToken("<s>");
        var tokenizer = f.Build();
        var ids = tokenizer.Encode("<s>hi hi").ToArray();
        Assert.That(ids[0], Is.EqualTo(bos));
        Assert.That(tokenizer.Decode(ids), Is.EqualTo("<s>hi hi"));
        Assert.That(tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo("hi hi"));
        Assert.That(tokenizer.TryGetAddedToken("<s>", out var token) && token.Special, Is.True);
    }
}
