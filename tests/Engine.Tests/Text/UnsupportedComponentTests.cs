using System.Text.Json.Nodes;
using CoAR.Engine.Graph.Text;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class UnsupportedComponentTests
{
    private static TokenizerFormatException LoadFails(string json) =>
        Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromJson(json, "bad.json"))!;

    private static TokenizerJsonFixture Fixture()
    {
        var f = new TokenizerJsonFixture();
        f.Token("a");
        f.Token("b");
        return f;
    }

    [Test]
    public void WordPieceModelIsRefusedByName()
    {
        var json = JsonNode.Parse(Fixture().ToJson())!;
        json["model"]!["type"] = "WordPiece";
        var error = LoadFails(json.ToJsonString());
        Assert.That(error.JsonPath, Is.EqualTo("$.model"));
        Assert.That(error.Message, Does.Contain("bad.json").And.Contain("\"WordPiece\"").And.Contain("BPE"));
    }

    [Test]
    public void UnknownNormalizerInsideSequenceNamesItsPath()
    {
        var f = Fixture();
        f.Normalizer = new JsonObject
        {
            ["type"] = "Sequence",
            ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "NFC" }, new JsonObject { ["type"] = "BertNormalizer" }),
        };
        var error = LoadFails(f.ToJson());
        Assert.That(error.JsonPath, Is.EqualTo("$.normalizer.normalizers[1]"));
        Assert.That(error.Message, Does.Contain("\"BertNormalizer\""));
    }

    [Test]
    public void UnknownPreTokenizerAndDecoder()
    {
        var f = Fixture();
        f.PreTokenizer = new JsonObject { ["type"] = "UnicodeScripts" };
        Assert.That(LoadFails(f.ToJson()).JsonPath, Is.EqualTo("$.pre_tokenizer"));

        f = Fixture();
        f.Decoder = new JsonObject { ["type"] = "Sequence", ["decoders"] = new JsonArray(new JsonObject { ["type"] = "CTC" }) };
        var error = LoadFails(f.ToJson());
        Assert.That(error.JsonPath, Is.EqualTo("$.decoder.decoders[0]"));
        Assert.That(error.Message, Does.Contain("\"CTC\""));
    }

    [Test]
    public void MergeOfUnknownTokensNamesTheMerge()
    {
        var f = Fixture();
        f.Merge("a", "b");
        var json = JsonNode.Parse(f.ToJson())!;
        json["model"]!["merges"]!.AsArray().Add("a c");
        var error = LoadFails(json.ToJsonString());
        Assert.That(error.JsonPath, Is.EqualTo("$.model.merges[1]"));
        Assert.That(error.Message, Does.Contain("\"c\""));
    }

    [Test]
    public void MalformedInputsSayWhatWasExpected()
    {
        Assert.That(LoadFails("{ not json").JsonPath, Is.EqualTo("$"));

        var json = JsonNode.Parse(Fixture().ToJson())!;
        json["model"]!["merges"] = new JsonArray("a b c");
        Assert.That(LoadFails(json.ToJsonString()).Message, Does.Contain("exactly one space"));

        json = JsonNode.Parse(Fixture().ToJson())!;
        json["model"]!["dropout"] = 0.1;
        Assert.That(LoadFails(json.ToJsonString()).JsonPath, Is.EqualTo("$.model.dropout"));

        var f = Fixture();
        f.PreTokenizer = new JsonObject
        {
            ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "(" }, ["behavior"] = "Isolated", ["invert"] = false,
        };
        Assert.That(LoadFails(f.ToJson()).JsonPath, Is.EqualTo("$.pre_tokenizer.pattern.Regex"));

        f = Fixture();
        f.PreTokenizer = new JsonObject
        {
            ["type"] = "Split", ["pattern"] = new JsonObject { ["String"] = "x" }, ["behavior"] = "Sideways", ["invert"] = false,
        };
        Assert.That(LoadFails(f.ToJson()).Message, Does.Contain("\"Sideways\"").And.Contain("MergedWithNext"));

        json = JsonNode.Parse(Fixture().ToJson())!;
        json.AsObject().Remove("model");
        Assert.That(LoadFails(json.ToJsonString()).Message, Does.Contain("\"model\""));
    }

    [Test]
    public void MissingFileIsNamed()
    {
        var error = Assert.Throws<FileNotFoundException>(() => BpeTokenizer.Load("/nonexistent/tokenizer.json"));
        Assert.That(error!.Message, Does.Contain("/nonexistent/tokenizer.json"));
    }

    [Test]
    public void PostProcessorIsAcceptedAndIgnored()
    {
        var f = Fixture();
        f.PreTokenizer = new JsonObject { ["type"] = "WhitespaceSplit" };
        // The fixture always carries a TemplateProcessing post_processor: encoding adds nothing for it.
        Assert.That(f.Build().Encode("ab a"), Is.EqualTo(new[] { 0, 1, 0 }));
    }
}
