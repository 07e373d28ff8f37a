using System.Text.Json;
using CoAR.Engine.Graph.Text.Json;
using CoAR.Engine.Graph.Text.PreTokenizers;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class PreTokenizerTests
{
    private static string[] PreTokenize(string json, string text)
    {
        using var document = JsonDocument.Parse(json);
        var preTokenizer = PreTokenizerParser.Parse(new JsonCursor(document.RootElement, "$.pre_tokenizer", "test"));
        var pieces = new List<PreToken> { new(text, AtTextStart: true) };
        preTokenizer.PreTokenize(pieces);
        return pieces.Select(p => p.Text).ToArray();
    }

    private const string WordRegex = """{"Regex": "\\w+|[^\\w\\s]+"}""";

    [TestCase("Removed", new[] { "How", "are", "you", "doing", "?" })]
    [TestCase("Isolated", new[] { "How", " ", "are", " ", "you", " ", "doing", "?" })]
    [TestCase("MergedWithPrevious", new[] { "How ", "are ", "you ", "doing", "?" })]
    [TestCase("MergedWithNext", new[] { "How", " are", " you", " doing", "?" })]
    [TestCase("Contiguous", new[] { "How", " ", "are", " ", "you", " ", "doing?" })]
    public void InvertedRegexSplitBehaviors(string behavior, string[] expected)
    {
        string json = $$"""{"type": "Split", "pattern": {{WordRegex}}, "behavior": "{{behavior}}", "invert": true}""";
        Assert.That(PreTokenize(json, "How are you doing?"), Is.EqualTo(expected));
    }

    [TestCase("Removed", new[] { "the", "final", "countdown" })]
    [TestCase("Isolated", new[] { "the", "-", "final", "-", "-", "countdown" })]
    [TestCase("MergedWithPrevious", new[] { "the-", "final-", "-", "countdown" })]
    [TestCase("MergedWithNext", new[] { "the", "-final", "-", "-countdown" })]
    [TestCase("Contiguous", new[] { "the", "-", "final", "--", "countdown" })]
    public void StringSplitBehaviors(string behavior, string[] expected)
    {
        string json = $$"""{"type": "Split", "pattern": {"String": "-"}, "behavior": "{{behavior}}", "invert": false}""";
        Assert.That(PreTokenize(json, "the-final--countdown"), Is.EqualTo(expected));
    }

    [Test]
    public void WhitespaceKeepsWordsAndPunctuationRuns()
    {
        Assert.That(PreTokenize("""{"type": "Whitespace"}""", "Hey man!! ça va?"), Is.EqualTo(new[] { "Hey", "man", "!!", "ça", "va", "?" }));
    }

    [Test]
    public void WhitespaceSplitDropsWhiteSpace()
    {
        Assert.That(PreTokenize("""{"type": "WhitespaceSplit"}""", " Hey \t man!\n"), Is.EqualTo(new[] { "Hey", "man!" }));
    }

    [TestCase(true, new[] { "Hey ", "1", "2", "3", " friend!" })]
    [TestCase(false, new[] { "Hey ", "123", " friend!" })]
    public void DigitsSplitNumbers(bool individual, string[] expected)
    {
        string json = $$"""{"type": "Digits", "individual_digits": {{(individual ? "true" : "false")}}}""";
        Assert.That(PreTokenize(json, "Hey 123 friend!"), Is.EqualTo(expected));
    }

    [Test]
    public void PunctuationIsolatesEachMark()
    {
        Assert.That(PreTokenize("""{"type": "Punctuation", "behavior": "Isolated"}""", "Hey friend!  How are you?!$"),
            Is.EqualTo(new[] { "Hey friend", "!", "  How are you", "?", "!", "$" }));
    }

    [Test]
    public void SequenceAppliesStepsInOrder()
    {
        const string json = """
            {"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"},
                {"type": "Digits", "individual_digits": true}]}
            """;
        Assert.That(PreTokenize(json, "room 42b"), Is.EqualTo(new[] { "room", "4", "2", "b" }));
    }

    [Test]
    public void MetaspaceWithoutSplitKeepsOnePiece()
    {
        const string json = """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": false}""";
        Assert.That(PreTokenize(json, "Hey friend"), Is.EqualTo(new[] { "▁Hey▁friend" }));
    }

    [Test]
    public void ByteLevelWithoutRegexSpellsTheWholePiece()
    {
        const string json = """{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": false}""";
        Assert.That(PreTokenize(json, "Hello my friend"), Is.EqualTo(new[] { "ĠHelloĠmyĠfriend" }));
    }

    [Test]
    public void ByteLevelGpt2Split()
    {
        const string json = """{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}""";
        Assert.That(PreTokenize(json, "Hello my friend, how's it going?\nFine  ok"),
            Is.EqualTo(new[] { "Hello", "Ġmy", "Ġfriend", ",", "Ġhow", "'s", "Ġit", "Ġgoing", "?", "Ċ", "Fine", "Ġ", "Ġok" }));
    }
}

/// <summary>Regex pre-tokenizers from an untrusted tokenizer.json cannot hang the engine.</summary>
public class RegexRunTimeTests
{
    private static CoAR.Engine.Graph.Text.BpeTokenizer WithSplit(string pattern)
    {
        var fixture = TokenizerJsonFixture.ByteLevel();
        fixture.PreTokenizer = new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "Split", ["pattern"] = new System.Text.Json.Nodes.JsonObject { ["Regex"] = pattern }, ["behavior"] = "Isolated", ["invert"] = false,
        };
        return fixture.Build();
    }

    [TestCase("(a+)+$")]
    [TestCase("(a|a|ab|aa)*$")]
    public void CatastrophicPatternsRunInLinearTime(string pattern)
    {
        // Exponential on a backtracking engine; these run on the non-backtracking one.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var ids = WithSplit(pattern).Encode(new string('a', 5000) + "b");
        Assert.That(ids, Is.Not.Empty);
        Assert.That(clock.Elapsed.TotalSeconds, Is.LessThan(30), "linear time: far below any time-out");
    }

    [Test]
    public void ABacktrackingOnlyPatternIsStoppedByItsTimeOut()
    {
        // A back-reference needs the backtracking engine: the time-out ends it with an error naming the pattern.
        var tokenizer = WithSplit("(\\w*)*\\1!");
        var e = Assert.Throws<InvalidDataException>(() => tokenizer.Encode(new string('a', 40)));
        Assert.That(e!.Message, Does.Contain("fixture: $.pre_tokenizer.pattern").And.Contain("catastrophic backtracking"));
    }
}
