using System.Text;
using CoAR.Engine.Graph.Text;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class ByteLevelBpeTests
{
    // Ranks: 0 "h e", 1 "l l", 2 "he ll", 3 "hell o", 4 "Ġ w", 5 "o r", 6 "Ġw or", 7 "l d", 8 "Ġ Ġ".
    private static TokenizerJsonFixture HelloWorld(bool mergesAsPairs = false, bool addPrefixSpace = false)
    {
        var f = TokenizerJsonFixture.ByteLevel(addPrefixSpace);
        f.MergesAsPairs = mergesAsPairs;
        f.Merge("h", "e");
        f.Merge("l", "l");
        f.Merge("he", "ll");
        f.Merge("hell", "o");
        f.Merge("Ġ", "w");
        f.Merge("o", "r");
        f.Merge("Ġw", "or");
        f.Merge("l", "d");
        f.Merge("Ġ", "Ġ");
        return f;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void MergesLowestRankFirstInBothMergeSpellings(bool mergesAsPairs)
    {
        var f = HelloWorld(mergesAsPairs);
        var tokenizer = f.Build();
        // "hello" merges fully; "Ġworld": Ġw (4), or (5), Ġwor (6), ld (7); "Ġwor ld" is no merge.
        Assert.That(tokenizer.Encode("hello world"), Is.EqualTo(new[] { f.Id("hello"), f.Id("Ġwor"), f.Id("ld") }));
    }

    [Test]
    public void EqualRanksMergeLeftmostFirst()
    {
        var f = HelloWorld();
        Assert.That(f.Build().Encode("lll"), Is.EqualTo(new[] { f.Id("ll"), 'l' }));
    }

    [Test]
    public void AddPrefixSpaceGivesTheFirstWordItsSpace()
    {
        var f = HelloWorld(addPrefixSpace: true);
        var tokenizer = f.Build();
        Assert.That(tokenizer.Encode("hello"), Is.EqualTo(new[] { ' ', f.Id("hello") }));
        Assert.That(tokenizer.Encode("world"), Is.EqualTo(new[] { f.Id("Ġwor"), f.Id("ld") }));
        Assert.That(tokenizer.Encode(" world"), Is.EqualTo(new[] { f.Id("Ġwor"), f.Id("ld") }), "no second space");
    }

    [Test]
    public void WhitespaceRunsLeaveOneSpaceForTheNextWord()
    {
        var f = HelloWorld();
        var tokenizer = f.Build();
        // GPT-2 regex: "a", "ĠĠĠ" (\s+(?!\S)), "Ġb". "ĠĠĠ" merges its left pair first.
        Assert.That(tokenizer.Encode("a    b"), Is.EqualTo(new[] { 'a', f.Id("ĠĠ"), ' ', ' ', 'b' }));
        Assert.That(tokenizer.Encode("a\n\nb"), Is.EqualTo(new[] { 'a', '\n', '\n', 'b' }));
        Assert.That(tokenizer.Encode("end  "), Is.EqualTo(new[] { 'e', 'n', 'd', f.Id("ĠĠ") }));
    }

    [TestCase("日本語の写真")]
    [TestCase("a dog 🐶 on a 🛹!")]
    [TestCase("cafe\u0301 e\u0301te\u0301")]
    [TestCase("𝔾𝕠𝕠𝕕 𠀀 night")]
    public void UnmergedTextEncodesToItsUtf8Bytes(string text)
    {
        var tokenizer = HelloWorld().Build();
        var expected = Encoding.UTF8.GetBytes(text).Select(b => (int)b);
        // Only "Ġ Ġ"/"l l"/"o r"/... could merge; these texts contain none of those pairs.
        Assert.That(tokenizer.Encode(text), Is.EqualTo(expected));
    }

    [TestCase("hello world")]
    [TestCase("  leading and trailing   ")]
    [TestCase("tabs\tand\nnew lines\r\n")]
    [TestCase("日本語の写真 🐶🛹 cafe\u0301 𝔾𝕠𝕠𝕕 𠀀")]
    [TestCase("it's 12345 o'clock; we'll see")]
    [TestCase("")]
    public void DecodeInvertsEncode(string text)
    {
        var tokenizer = HelloWorld().Build();
        Assert.That(tokenizer.Decode(tokenizer.Encode(text).ToArray()), Is.EqualTo(text));
    }

    [Test]
    public void SupplementaryLettersStayInOneWord()
    {
        // The GPT-2 regex's \p{L}+ must take "x𝔾" as one word, as Oniguruma does (.NET alone sees two surrogates), so
        // "x" can merge with the first byte of 𝔾 (F0, spelled "ð").
        var f = HelloWorld();
        f.Merge("x", "ð");
        var ids = f.Build().Encode("x𝔾");
        Assert.That(ids, Is.EqualTo(new[] { f.Id("xð"), 0x9D, 0x94, 0xBE }));
    }

    [Test]
    public void ContractionsSplitOffAsInGpt2()
    {
        var f = HelloWorld();
        f.Merge("'", "s");
        var ids = f.Build().Encode("he's");
        Assert.That(ids, Is.EqualTo(new[] { f.Id("he"), f.Id("'s") }));
    }

    [Test]
    public void DecodeReportsUnknownIds()
    {
        var tokenizer = HelloWorld().Build();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([1, 99999]));
        Assert.That(error!.Message, Does.Contain("99999").And.Contain("fixture"));
    }

    [Test]
    public void VocabularyLookupsWorkBothWays()
    {
        var f = HelloWorld();
        var tokenizer = f.Build();
        Assert.That(tokenizer.TryGetId("Ġwor", out int id), Is.True);
        Assert.That(id, Is.EqualTo(f.Id("Ġwor")));
        Assert.That(tokenizer.IdToToken(id), Is.EqualTo("Ġwor"));
        Assert.That(tokenizer.IdToToken(-1), Is.Null);
        Assert.That(tokenizer.TryGetId("nope", out _), Is.False);
        Assert.That(tokenizer.VocabSize, Is.EqualTo(256 + 9));
    }
}
