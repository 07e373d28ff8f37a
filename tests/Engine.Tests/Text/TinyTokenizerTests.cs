using CoAR.Engine.Graph.Text;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class TinyTokenizerTests
{
    private static readonly Lazy<BpeTokenizer> Tokenizer = new(() => BpeTokenizer.FromJson(TinyTokenizer.ToJson(), "tiny"));

    [Test]
    public void VocabularyKeepsChameleonIdsAndAddsByteLevelText()
    {
        var names = TinyVocabulary.Names;
        Assert.That(names[0], Is.EqualTo("<s>"));
        Assert.That(names[4], Is.EqualTo("IMGIMGAZ"));
        Assert.That(names[8195], Is.EqualTo("IMGIMGIBJBZ"));
        Assert.That(names[8196], Is.EqualTo("<eoss>"));
        Assert.That(names[8197], Is.EqualTo("<racm3:break>"));
        Assert.That(names[8710], Is.EqualTo("<reserved08706>"));
        Assert.That(names[8803], Is.EqualTo("<reserved08799>"));
        Assert.That(names[8828], Is.EqualTo("<reserved08824>"));
        Assert.That(names[8999], Is.EqualTo("<reserved08995>"));
        Assert.That(names[9000], Is.EqualTo("Ā"), "byte 0");
        Assert.That(names[9000 + ' '], Is.EqualTo("Ġ"));
        Assert.That(names[9000 + 'a'], Is.EqualTo("a"));
        Assert.That(TinyVocabulary.TextMerges, Has.Count.InRange(200, TinyVocabulary.MaxTextMerges));
        int end = TinyVocabulary.FirstTextId + TinyVocabulary.TextTokenCount;
        Assert.That(TinyVocabulary.TextTokenCount, Is.GreaterThan(256 + 150));
        Assert.That(names[end], Is.EqualTo($"<reserved{end - 4:D5}>"));
        Assert.That(names[^1], Is.EqualTo("<reserved65531>"));
    }

    [Test]
    public void MergesAreLearnedDeterministicallyFromTheCorpus()
    {
        // The corpus is full of " a", " the", " of", "photo": their merges come early.
        var first = TinyVocabulary.TextMerges.Take(40).Select(m => m.Left + m.Right).ToList();
        Assert.That(first, Does.Contain("Ġa").And.Contain("Ġthe").And.Contain("Ġof"));
        Assert.That(TinyVocabulary.Names, Does.Contain("Ġphoto"));
    }

    [Test]
    public void WrittenFileLoadsWithEveryNameAtItsId()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"coar-tiny-tokenizer-{Guid.NewGuid():N}");
        try
        {
            string path = Path.Combine(directory, "tokenizer.json");
            TinyTokenizer.Write(path);
            Assert.That(Directory.GetFiles(directory), Is.EqualTo(new[] { path }), "no temp file left behind");
            var tokenizer = BpeTokenizer.Load(path);
            Assert.That(tokenizer.VocabSize, Is.EqualTo(TinyVocabulary.Size));
            for (int id = 0; id < TinyVocabulary.Size; id++)
            {
                if (tokenizer.IdToToken(id) != TinyVocabulary.Names[id])
                    Assert.Fail($"id {id}: expected {TinyVocabulary.Names[id]}, found {tokenizer.IdToToken(id)}");
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [TestCase("Generate an image of 768x768 according to the following prompt:\nA photo of a dog on the beach.")]
    [TestCase("An oil painting of three zebras, in the style of Van Gogh's starry night!")]
    [TestCase("quirky   spacing\tand\n\nnew lines, numbers 12345 and 3.14")]
    public void EncodingMatchesAnIndependentReferenceBpe(string text)
    {
        Assert.That(Tokenizer.Value.Encode(text), Is.EqualTo(ReferenceBpe.Encode(text)));
    }

    [TestCase("A photo of a dog on the beach.")]
    [TestCase("日本語 🐶 cafe\u0301 𝔾 – “quotes”")]
    public void DecodeInvertsEncode(string text)
    {
        var ids = Tokenizer.Value.Encode(text).ToArray();
        Assert.That(ids, Has.All.GreaterThanOrEqualTo(TinyVocabulary.FirstTextId));
        Assert.That(Tokenizer.Value.Decode(ids), Is.EqualTo(text));
    }

    [Test]
    public void SpecialAndReservedNamesMatchWhole()
    {
        Assert.That(Tokenizer.Value.Encode("<racm3:break><reserved08824><reserved08799><eoss><reserved08706>"),
            Is.EqualTo(new[] { 8197, 8828, 8803, 8196, 8710 }));
        Assert.That(Tokenizer.Value.Encode("a<s>"), Is.EqualTo(new[] { 9000 + 'a', 0 }));
    }
}
