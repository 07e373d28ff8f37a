using System.Text.Json.Nodes;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class LuminaPromptTests
{
    private const string Instruction = "Generate an image of 768x768 according to the following prompt:\n";
    private static readonly Lazy<BpeTokenizer> Tiny = new(() => BpeTokenizer.FromJson(TinyTokenizer.ToJson(), "tiny"));
    private static readonly Lazy<ChameleonVocabulary> Vocabulary = new(() => new ChameleonVocabulary(Tiny.Value.Vocabulary));

    private static LuminaPrompt Prompt(BpeTokenizer? tokenizer = null) => new(tokenizer ?? Tiny.Value, Vocabulary.Value);

    private static int[] Concat(params IEnumerable<int>[] parts) => parts.SelectMany(p => p).ToArray();

    [Test]
    public void PromptIsBosTextAndEndOfTurn()
    {
        var prompt = Prompt().Build("A photo of a dog on the beach.", 768, 768);
        var expected = Concat([0], ReferenceBpe.Encode(Instruction + "A photo of a dog on the beach."), [8710]);
        Assert.That(prompt.Ids, Is.EqualTo(expected));
        Assert.That(prompt.TextSlots, Is.Empty);
        Assert.That(Tiny.Value.Decode(prompt.Ids[1..]), Is.EqualTo(LuminaPrompt.Text("A photo of a dog on the beach.", 768, 768)));
    }

    [Test]
    public void WidthComesFirstInTheText()
    {
        var ids = Prompt().Build("a cat", 512, 768).Ids;
        Assert.That(Tiny.Value.Decode(ids[1..^1]), Does.StartWith("Generate an image of 512x768 according"));
    }

    [Test]
    public void EndOfTurnIsAppendedWhenTheTokenizerLacksItAsAddedToken()
    {
        var json = JsonNode.Parse(TinyTokenizer.ToJson())!;
        var added = json["added_tokens"]!.AsArray();
        added.Remove(added.Single(t => (int)t!["id"]! == 8710));
        var withoutAddedToken = BpeTokenizer.FromJson(json.ToJsonString(), "tiny without <reserved08706>");
        Assert.That(withoutAddedToken.TryGetAddedToken("<reserved08706>", out _), Is.False);
        Assert.That(Prompt(withoutAddedToken).Build("a red hat", 768, 768).Ids, Is.EqualTo(Prompt().Build("a red hat", 768, 768).Ids));
    }

    [Test]
    public void PlaceholderBecomesSlotPositionsAndTheSpaceBeforeItIsAbsorbed()
    {
        var prompt = Prompt().Build("a photo of [V] dog", 768, 768, [new PromptPlaceholder("[V]")]);
        var before = ReferenceBpe.Encode(Instruction + "a photo of");
        var expected = Concat([0], before, [1], ReferenceBpe.Encode(" dog"), [8710]);
        Assert.That(prompt.Ids, Is.EqualTo(expected));
        Assert.That(prompt.TextSlots, Has.Count.EqualTo(1));
        Assert.That(prompt.TextSlots[0].Placeholder, Is.EqualTo("[V]"));
        Assert.That(prompt.TextSlots[0].Positions, Is.EqualTo(new[] { 1 + before.Count }));
    }

    [Test]
    public void VerbatimSpacingKeepsTheSpaceToken()
    {
        var prompt = new LuminaPrompt(Tiny.Value, Vocabulary.Value) { AbsorbSpaceBeforePlaceholder = false }
            .Build("a photo of [V] dog", 768, 768, [new PromptPlaceholder("[V]")]);
        var before = ReferenceBpe.Encode(Instruction + "a photo of ");
        Assert.That(before[^1], Is.EqualTo(9000 + ' '), "a lone space token");
        Assert.That(prompt.Ids, Is.EqualTo(Concat([0], before, [1], ReferenceBpe.Encode(" dog"), [8710])));
    }

    [Test]
    public void SeveralPlaceholdersWithSeveralSlotsEach()
    {
        var prompt = new LuminaPrompt(Tiny.Value, Vocabulary.Value) { SlotFillerId = 3 }.Build(
            "[V] in the style of [S], and [V] again", 768, 768,
            [new PromptPlaceholder("[V]", SlotCount: 2), new PromptPlaceholder("[S]")]);
        var head = Concat([0], ReferenceBpe.Encode(Instruction));
        var middle = ReferenceBpe.Encode(" in the style of");
        var tail = ReferenceBpe.Encode(", and");
        var expected = Concat(head, [3, 3], middle, [3], tail, [3, 3], ReferenceBpe.Encode(" again"), [8710]);
        Assert.That(prompt.Ids, Is.EqualTo(expected));
        int v1 = head.Length, s = v1 + 2 + middle.Count, v2 = s + 1 + tail.Count;
        Assert.That(prompt.TextSlots.Select(t => t.Placeholder), Is.EqualTo(new[] { "[V]", "[S]" }));
        Assert.That(prompt.TextSlots[0].Positions, Is.EqualTo(new[] { v1, v1 + 1, v2, v2 + 1 }));
        Assert.That(prompt.TextSlots[1].Positions, Is.EqualTo(new[] { s }));
    }

    [Test]
    public void PlaceholderErrorsNameThePlaceholder()
    {
        var prompt = Prompt();
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("a dog", 768, 768, [new PromptPlaceholder("[V]")]))!.Message,
            Does.Contain("[V]").And.Contain("does not appear"));
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("[V] in the style of [S]", 768, 768, [new PromptPlaceholder("[V]")]))!.Message,
            Does.Contain("[S]").And.Contain("no concept is bound"));
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("[V] dog", 768, 768, [new PromptPlaceholder("[V]", 0)]))!.Message,
            Does.Contain("[V]").And.Contain("at least 1"));
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("[V] dog", 768, 768, [new("[V]"), new("[V]")]))!.Message,
            Does.Contain("twice"));
        Assert.Throws<ArgumentException>(() => prompt.Build("a dog", 700, 768));
    }

    [Test]
    public void PiecesAfterAPlaceholderAreEncodedAsContinuation()
    {
        // With Metaspace prepend_scheme "first", the reference adds no "▁" to text after an added token; a placeholder
        // behaves the same: "hello" right after [V] is "he" "llo", not "▁hello".
        var f = MetaspaceBpeTests.Fixture("first");
        var prompt = Prompt(f.Build()).Build("[V]hello", 768, 768, [new PromptPlaceholder("[V]")]);
        Assert.That(prompt.Ids[^3..], Is.EqualTo(new[] { f.Id("he"), f.Id("llo"), 8710 }));
    }

    [Test]
    public void ImageHeaderPutsHeightBeforeWidth()
    {
        var prompt = Prompt();
        Assert.That(prompt.ImageHeader(768, 768), Is.EqualTo(new[] { 8197, 8828, 8828 }));
        Assert.That(prompt.ImageHeader(512, 1024), Is.EqualTo(new[] { 8197, 8804 + 32, 8804 + 16 }));
        Assert.That(prompt.ImageHeader(1536, 384), Is.EqualTo(new[] { 8197, 8804 + 12, 8804 + 48 }));
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.ImageHeader(1024, 1024))!.Message, Does.Contain("1024x1024"));
    }
}
