using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class ChameleonVocabularyTests
{
    private static Dictionary<string, int> TinyMap() =>
        TinyVocabulary.Names.Select((name, id) => (name, id)).ToDictionary(n => n.name, n => n.id);

    [Test]
    public void SpecialIdsAreReadByName()
    {
        var vocabulary = new ChameleonVocabulary(TinyMap());
        Assert.That(vocabulary.Bos, Is.EqualTo(0));
        Assert.That(vocabulary.Pad, Is.EqualTo(1));
        Assert.That(vocabulary.Eos, Is.EqualTo(2));
        Assert.That(vocabulary.ImageEnd, Is.EqualTo(8196));
        Assert.That(vocabulary.ImageStart, Is.EqualTo(8197));
        Assert.That(vocabulary.EndOfTurn, Is.EqualTo(8710));
        Assert.That(vocabulary.NewLine, Is.EqualTo(8803));
        Assert.That(vocabulary.SizeToken(0), Is.EqualTo(8804));
        Assert.That(vocabulary.SizeToken(24), Is.EqualTo(8828));
    }

    [Test]
    public void ImageCodesMapBothWays()
    {
        var vocabulary = new ChameleonVocabulary(TinyMap());
        Assert.That(vocabulary.ImageCodeToId(0), Is.EqualTo(4));
        Assert.That(vocabulary.ImageCodeToId(8191), Is.EqualTo(8195));
        Assert.That(vocabulary.FirstImageCodeId, Is.EqualTo(4));
        Assert.That(vocabulary.LastImageCodeId, Is.EqualTo(8195));
        Assert.That(vocabulary.IdToImageCode(4 + 1234), Is.EqualTo(1234));
        Assert.That(vocabulary.TryGetImageCode(8196, out _), Is.False);
        Assert.That(vocabulary.TryGetImageCode(3, out _), Is.False);
        Assert.Throws<ArgumentOutOfRangeException>(() => vocabulary.ImageCodeToId(8192));
    }

    [Test]
    public void GenerationIdsMatchChameleons()
    {
        Assert.That(new ChameleonVocabulary(TinyMap()).ToImageTokenIds(), Is.EqualTo(ImageTokenIds.Chameleon));
        var map = TinyMap();
        map["<reserved08810>"] = 60000;
        Assert.That(Assert.Throws<InvalidDataException>(() => new ChameleonVocabulary(map).ToImageTokenIds())!.Message,
            Does.Contain("10 cells").And.Contain("not contiguous"));
    }

    [TestCase("IMGIMGAZ", 0)]
    [TestCase("IMGIMGBCZ", 12)]
    [TestCase("IMGIMGIBJBZ", 8191)]
    public void ImageCodeNamesSpellDigitsInLetters(string name, int code)
    {
        Assert.That(ChameleonVocabulary.TryParseImageCodeName(name, out int parsed), Is.True);
        Assert.That(parsed, Is.EqualTo(code));
    }

    [Test]
    public void NonMonotonicTableIsRefused()
    {
        var map = TinyMap();
        // Swap the ids of codes 5 and 6: the names still cover 0..8191, but rank order no longer matches.
        (map["IMGIMGFZ"], map["IMGIMGGZ"]) = (map["IMGIMGGZ"], map["IMGIMGFZ"]);
        var error = Assert.Throws<InvalidDataException>(() => new ChameleonVocabulary(map, "config.json"));
        Assert.That(error!.Message, Does.Contain("config.json").And.Contain("not increasing").And.Contain("code 6"));
    }

    [Test]
    public void IncompleteOrMalformedTablesAreRefused()
    {
        var map = TinyMap();
        map.Remove("IMGIMGBAZ");
        Assert.That(Assert.Throws<InvalidDataException>(() => new ChameleonVocabulary(map))!.Message,
            Does.Contain("1 are missing").And.Contain("code 10"));

        map = TinyMap();
        map["IMGIMGIBJCZ"] = 60000; // code 8192
        Assert.That(Assert.Throws<InvalidDataException>(() => new ChameleonVocabulary(map))!.Message, Does.Contain("8192"));

        map = TinyMap();
        map["IMGIMGxZ"] = 60001;
        Assert.That(Assert.Throws<InvalidDataException>(() => new ChameleonVocabulary(map))!.Message, Does.Contain("IMGIMGxZ"));

        map = TinyMap();
        map["IMGIMGAAZ"] = 60002; // code 0 again ("00")
        Assert.That(Assert.Throws<InvalidDataException>(() => new ChameleonVocabulary(map))!.Message, Does.Contain("named twice"));
    }

    [Test]
    public void MissingSpecialTokenIsNamed()
    {
        var map = TinyMap();
        map.Remove("<racm3:break>");
        Assert.That(Assert.Throws<InvalidDataException>(() => new ChameleonVocabulary(map))!.Message, Does.Contain("<racm3:break>"));
    }
}
