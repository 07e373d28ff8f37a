using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

/// <summary>Reference images in a prompt, laid out as Lumina-mGPT's item processor builds them (spec sections 4-5).</summary>
public class ReferenceImagePromptTests
{
    private const string Instruction = "Generate an image of 768x768 according to the following prompt:\n";
    private static readonly Lazy<BpeTokenizer> Tiny = new(() => BpeTokenizer.FromJson(TinyTokenizer.ToJson(), "tiny"));
    private static readonly Lazy<ChameleonVocabulary> Vocabulary = new(() => new ChameleonVocabulary(Tiny.Value.Vocabulary));

    private static LuminaPrompt Prompt() => new(Tiny.Value, Vocabulary.Value);

    private static int[] Concat(params IEnumerable<int>[] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A 64x32 image (4 x 2 latent codes): 8197, 8804 + 32/32, 8804 + 64/32, two rows of 4 codes + 8803, 8196.</summary>
    private static ReferenceImage Wide(int firstCode = 0) =>
        ReferenceImage.FromCodes("wide.png", ImageLayout.For(64, 32), Enumerable.Range(firstCode, 8).ToArray());

    [Test]
    public void AnImageIsStartHeightWidthRowsWithNewLinesThenEndOfImage()
    {
        Assert.That(Wide().Tokens, Is.EqualTo(new[]
        {
            8197, 8805, 8806,
            4, 5, 6, 7, 8803,
            8, 9, 10, 11, 8803,
            8196,
        }));
        var square = ReferenceImage.FromCodes("square.png", ImageLayout.For(768, 768), new int[48 * 48]);
        Assert.That(square.Tokens, Has.Length.EqualTo(3 + 48 * 49 + 1), "2356 tokens: the 2357 of a generated image but the end of turn");
        Assert.That(square.Tokens[..3], Is.EqualTo(new[] { 8197, 8828, 8828 }));
        Assert.That(square.Tokens[^2..], Is.EqualTo(new[] { 8803, 8196 }));
    }

    [Test]
    public void TheImageReplacesItsSymbolAndTheTextAroundItKeepsItsSpaces()
    {
        var image = Wide();
        var prompt = Prompt().Build("a dog like <|image|> on grass", 768, 768, images: [image.Tokens]);
        var before = Concat([0], ReferenceBpe.Encode(Instruction + "a dog like "));
        Assert.That(before[^1], Is.EqualTo(9000 + ' '), "the space before the symbol stays, as around an added token");
        Assert.That(prompt.Ids, Is.EqualTo(Concat(before, image.Tokens, ReferenceBpe.Encode(" on grass"), [8710])));
        Assert.That(prompt.Images, Is.EqualTo(new[] { new ImageSpan(before.Length, image.Tokens.Length) }));
    }

    [Test]
    public void SeveralImagesGoInOrderBesideConceptSlots()
    {
        var (first, second) = (Wide(0), Wide(100));
        var prompt = Prompt().Build("<|image|> and [V] dog <|image|>", 768, 768, [new PromptPlaceholder("[V]")], [first.Tokens, second.Tokens]);
        var head = Concat([0], ReferenceBpe.Encode(Instruction));
        var middle = ReferenceBpe.Encode(" and");
        var dog = ReferenceBpe.Encode(" dog ");
        Assert.That(prompt.Ids, Is.EqualTo(Concat(head, first.Tokens, middle, [1], dog, second.Tokens, [8710])));
        int slot = head.Length + first.Tokens.Length + middle.Count;
        Assert.That(prompt.TextSlots[0].Positions, Is.EqualTo(new[] { slot }));
        Assert.That(prompt.Images, Is.EqualTo(new[]
        {
            new ImageSpan(head.Length, first.Tokens.Length),
            new ImageSpan(slot + 1 + dog.Count, second.Tokens.Length),
        }));
    }

    [Test]
    public void ImagesWithoutASymbolGoFirstEachFollowedByASpace()
    {
        // The reference prefixes "<|image|> " * n to the first human turn: the images right after BOS, then the
        // instruction as the continuation of the text (" Generate ...").
        var (first, second) = (Wide(0), Wide(8));
        var prompt = Prompt().Build("a cat", 768, 768, images: [first.Tokens, second.Tokens]);
        var expected = Concat([0], first.Tokens, ReferenceBpe.Encode(" "), second.Tokens, ReferenceBpe.Encode(" " + Instruction + "a cat"), [8710]);
        Assert.That(prompt.Ids, Is.EqualTo(expected));
        Assert.That(prompt.Images.Select(s => s.Start), Is.EqualTo(new[] { 1, 1 + first.Tokens.Length + 1 }));
    }

    [Test]
    public void WithoutTheInstructionThePromptIsTheWholeTurn()
    {
        // Lumina-mGPT's image-to-image demo: its own task text, the image symbol at the end, no size instruction.
        const string caption = "Generate an image according to the provided image, and according to the following caption:\na red car <|image|>";
        var image = Wide();
        var prompt = Prompt().Build(caption, 768, 768, images: [image.Tokens], instruction: false);
        var before = ReferenceBpe.Encode(caption[..caption.IndexOf("<|image|>", StringComparison.Ordinal)]);
        Assert.That(prompt.Ids, Is.EqualTo(Concat([0], before, image.Tokens, [8710])));
        Assert.That(Prompt().Build("a cat", 768, 768, instruction: false).Ids, Is.EqualTo(Concat([0], ReferenceBpe.Encode("a cat"), [8710])));
    }

    [Test]
    public void ACountMismatchOrAMalformedImageIsRefused()
    {
        var prompt = Prompt();
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("<|image|> then <|image|>", 768, 768, images: [Wide().Tokens]))!.Message,
            Does.Contain("2 <|image|>").And.Contain("1 image(s)"));
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("look: <|image|>", 768, 768))!.Message,
            Does.Contain("1 <|image|>").And.Contain("0 image(s)"));
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("<|image|>", 768, 768, images: [[8197, 8805, 8806, 4]]))!.Message,
            Does.Contain("reference image 1"));
        Assert.That(Assert.Throws<ArgumentException>(() => prompt.Build("<|image|>", 768, 768, [new PromptPlaceholder("<|image|>")], [Wide().Tokens]))!.Message,
            Does.Contain("marks a reference image"));
        Assert.That(LuminaPrompt.ImagePlaceholderCount("<|image|><|image|> <|image"), Is.EqualTo(2));
    }
}
