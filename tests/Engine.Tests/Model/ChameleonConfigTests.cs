using CoAR.Engine.Graph.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Model;

public class ChameleonConfigTests
{
    private const string Minimal = """
        {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008,
         "vocab_size": 65536, "some_future_field": {"x": 1}, "rope_scaling": null, "vocabulary_map": {"<s>": 0, "<racm3:break>": 8197}}
        """;

    [Test]
    public void ParsesTheSevenBFieldsWithDefaults()
    {
        var c = ChameleonConfig.Parse(Minimal, "config.json");
        Assert.That(c.HeadDim, Is.EqualTo(128));
        Assert.That(c.NumKvHeads, Is.EqualTo(32), "KV heads default to the attention heads");
        Assert.That(c.RmsNormEps, Is.EqualTo(1e-5f));
        Assert.That(c.RopeTheta, Is.EqualTo(10000f));
        Assert.That(c.SwinNorm, Is.False);
        Assert.That(c.QkLayerNorm, Is.True);
        Assert.That(c.VocabularyMap["<racm3:break>"], Is.EqualTo(8197));
    }

    [TestCase("hidden_size")]
    [TestCase("vocab_size")]
    public void MissingRequiredFieldIsNamed(string field)
    {
        string json = Minimal.Replace($"\"{field}\"", "\"renamed\"");
        var e = Assert.Throws<ModelFormatException>(() => ChameleonConfig.Parse(json, "/m/config.json"));
        Assert.That(e!.Message, Does.Contain("/m/config.json").And.Contain($"missing required field '{field}'"));
    }

    [Test]
    public void WrongKindIsNamed()
    {
        var e = Assert.Throws<ModelFormatException>(() => ChameleonConfig.Parse(Minimal.Replace("4096", "\"big\""), "config.json"));
        Assert.That(e!.Message, Does.Contain("'hidden_size' must be a positive integer, found \"big\""));
    }

    [Test]
    public void UnsupportedFeaturesAreRefusedClearly()
    {
        var e = Assert.Throws<ModelFormatException>(() =>
            ChameleonConfig.Parse(Minimal.Replace("\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\"}"), "config.json"));
        Assert.That(e!.Message, Does.Contain("rope_scaling"));
        var e2 = Assert.Throws<ModelFormatException>(() => ChameleonConfig.Parse(Minimal.Replace("\"vocab_size\": 65536", "\"vocab_size\": 65536, \"num_key_value_heads\": 5"), "config.json"));
        Assert.That(e2!.Message, Does.Contain("num_key_value_heads 5 does not divide num_attention_heads 32"));
    }

    [Test]
    public void VocabularyIdOutsideTheVocabularyIsRefused()
    {
        var e = Assert.Throws<ModelFormatException>(() => ChameleonConfig.Parse(Minimal.Replace("8197}", "70000}"), "config.json"));
        Assert.That(e!.Message, Does.Contain("'<racm3:break>' has id 70000"));
    }

    [Test]
    public void NotJsonIsNamed()
    {
        var e = Assert.Throws<ModelFormatException>(() => ChameleonConfig.Parse("{ not json", "x/config.json"));
        Assert.That(e!.Message, Does.Contain("x/config.json: not valid JSON"));
    }
}
