using CoAR.Engine.Cli;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tests.Cli;
using CoAR.Engine.Tests.Model;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

/// <summary>Token-index embeddings (TokenAR's) as a concept's part: where they go, how they train, resume and load.</summary>
public class IndexEmbeddingTests
{
    private static readonly Lazy<BpeTokenizer> Tiny = new(() => BpeTokenizer.FromJson(TinyTokenizer.ToJson(), "tiny"));

    private static LuminaPrompt Prompt() => new(Tiny.Value, new ChameleonVocabulary(Tiny.Value.Vocabulary));

    [Test]
    public void TheSourceIsTheSlotsTheClassNounAfterThePlaceholderAndTheImageSlots()
    {
        var built = Prompt().Build("a photo of [V] dog, and [W] cat on the beach", 768, 768, [new PromptPlaceholder("[V]"), new PromptPlaceholder("[W]")]);
        var v = built.TextSlots[0];
        var dog = Text.ReferenceBpe.Encode(" dog");
        Assert.That(v.WordPositions, Is.EqualTo(Enumerable.Range(v.Positions[0] + 1, dog.Count)));
        Assert.That(built.Ids[v.WordPositions[0]..(v.WordPositions[^1] + 1)], Is.EqualTo(dog), "the word stops at the comma");
        var w = built.TextSlots[1];
        Assert.That(built.Ids[w.WordPositions[0]..(w.WordPositions[^1] + 1)], Is.EqualTo(Text.ReferenceBpe.Encode(" cat")), "the word stops at the space");

        const int d = 4;
        var withIndex = new Concept(ConceptKind.Subject, "[V]", "dog", 2, 1, 1, d, index: new float[d]);
        var without = new Concept(ConceptKind.Subject, "[W]", "cat", 2, 1, 1, d);
        var table = new ContextTable([withIndex, without]);
        Assert.That((withIndex.TableRows, table.IndexRow(0), table.Rows), Is.EqualTo((5, 4, 9)));
        var sequence = ConceptSequence.Build(built, [withIndex, without], table, identityMask: true, imageSlotFiller: 1);
        var added = sequence.Injections.Where(i => i.Add).ToList();
        int imageSlot = built.Ids.Length; // the first concept's image slot comes right after the prompt
        Assert.That(added.Select(i => i.Token), Is.EquivalentTo(v.Positions.Concat(v.WordPositions).Append(imageSlot)));
        Assert.That(added, Has.All.Matches<Graph.Model.ContextInjection>(i => i.BaseRow == 4 && i.Stride == 0 && i.Depth == 1));
        Assert.That(ConceptSequence.Build(built, [withIndex, without], table, true, 1, indexEmbeddings: false).Injections.Any(i => i.Add), Is.False);
    }

    [Test]
    public void ItTrainsFromZeroResumesExactlyAndTravelsInTheConceptFile()
    {
        string photos = TrainCommandTests.Photos(), work = TinyModels.NewTempDir("index");
        string concept = Path.Combine(work, "dog.safetensors");
        var (code, output, error) = CliHarness.Run("train", "--model", TinyModels.Default, "--images", photos, "--class", "dog", "--index-embedding",
            "--steps", "4", "--layers", "1", "--resolution", "64", "--no-dpp", "--device", "cpu", "--out", concept);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("a token-index embedding on its slots and class noun"));
        var info = ConceptFile.Load(concept);
        Assert.That(info.Concept.Index, Is.Not.Null);
        Assert.That(info.Concept.Index!.Any(v => v != 0), Is.True, "the index vector learned from zero");
        Assert.That(info.Concept.Parameters, Is.EqualTo(3 * info.Concept.Hidden));

        // Killed after 2 steps and resumed: the same concept, index included, as 4 steps in one go.
        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu"));
        var s = new TrainingSettings { ClassNoun = "dog", IndexEmbedding = true, Steps = 4, Depth = 1, Resolution = 64, Dpp = false };
        var files = TrainingData.ImageFiles(photos);
        string checkpoint = Path.Combine(work, "run.checkpoint.safetensors");
        using (var first = TrainingJob.Prepare(engine, s, files, new TrainingOutputs(work)))
        {
            first.Trainer.Initialize();
            first.Trainer.Train(2);
            first.Trainer.SaveCheckpoint(checkpoint);
        }
        using var resumed = TrainingJob.Prepare(engine, s, files, new TrainingOutputs(work));
        Assert.That(resumed.Trainer.Resume(checkpoint), Is.EqualTo(2));
        resumed.Trainer.Train();
        Assert.That(resumed.Trainer.Concept.Index, Is.EqualTo(info.Concept.Index));
        Assert.That(resumed.Trainer.Concept.Text, Is.EqualTo(info.Concept.Text));

        var prompt = new ImagePrompt("a photo of [V] dog", 64, 64, 1, new SamplingSettings()) { Concepts = [info.Concept] };
        Assert.That(engine.Generator.Prepare(prompt).Conditional!.Injections.Count(i => i.Add), Is.GreaterThanOrEqualTo(3));
        Assert.That(engine.Generator.Prepare(prompt with { IndexEmbeddings = false }).Conditional!.Injections.Any(i => i.Add), Is.False);
        // A reference image that shows the concept carries its index on every token (TokenAR's per-reference index).
        var reference = ReferenceImage.FromCodes("ref.png", ImageLayout.For(32, 32), new int[4]);
        var withReference = prompt with { Caption = "a photo of [V] dog like <|image|>", References = [reference with { Owner = "[V]" }] };
        var request = engine.Generator.Prepare(withReference);
        int at = Array.IndexOf(request.PromptTokens, 8197);
        var onImage = request.Conditional!.Injections.Where(i => i.Add && i.Token >= at && i.Token < at + reference.Tokens.Length).ToList();
        Assert.That(onImage, Has.Count.EqualTo(reference.Tokens.Length));
        Assert.That(request.Conditional.Tags[at..(at + reference.Tokens.Length)], Has.All.EqualTo(1), "the image carries its concept's identity tag");
        var unowned = engine.Generator.Prepare(withReference with { References = [reference] }).Conditional!;
        Assert.That(unowned.Injections.Count(i => i.Add && i.Token >= at && i.Token < at + reference.Tokens.Length), Is.Zero, "an image of no concept carries no index");
        Assert.That(unowned.Tags[at..(at + reference.Tokens.Length)], Has.All.EqualTo(0), "and no tag");
        Assert.That(Assert.Throws<ArgumentException>(() => engine.Generator.Prepare(withReference with { References = [reference with { Owner = "[W]" }] }))!.Message,
            Does.Contain("[W]"));

        string photo = Path.Combine(work, "photo.png");
        File.Copy(Directory.GetFiles(photos, "*.jpg")[0], Path.ChangeExtension(photo, ".jpg"));
        (code, output, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", concept, "--prompt", "[V] dog like <|image|>",
            "--image", Path.ChangeExtension(photo, ".jpg") + "=[V]", "--target", "512", "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "owned"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(File.ReadAllText(Path.Combine(work, "owned", "job.json")), Does.Contain(".jpg:").And.Contain("=[V]"));
        Assert.That(File.ReadAllText(Path.Combine(work, "owned", "00000-000.json")), Does.Contain(".jpg=[V]\""), "the sidecar names the image's concept");

        (code, output, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", concept, "--prompt", "a photo of [V] dog",
            "--no-index-embeddings", "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "images"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(File.ReadAllText(Path.Combine(work, "images", "job.json")), Does.Contain("\"index_embeddings\": false"));
    }
}
