using CoAR.Engine.Cli;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tests.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

/// <summary>`coar train --method textual-inversion`: PersonalAR's stage 1, the [V] input embedding, on the shared training path.</summary>
public class TextualInversionTests
{
    [Test]
    public void ThePresetIsPersonalArsStageOne()
    {
        var s = TrainingSettings.ForTextualInversion("dog");
        Assert.That((s.Method, s.Depth, s.TextSlots, s.ImageSlots, s.Dpp, s.Casr, s.Steps, s.LearningRate, s.TextInit),
            Is.EqualTo((TrainingMethod.TextualInversion, (int?)1, 1, 0, false, false, 1500, 1e-2f, TextInit.Random)));
        Assert.That(s.SubjectPrompts, Has.Count.EqualTo(TrainingSettings.PersonalArTemplates.Count));
        Assert.That(s.SubjectPrompts, Has.All.Contain("[V] dog"));
        Assert.That(s.SubjectPrompts.Distinct().Count(), Is.EqualTo(s.SubjectPrompts.Count));
        Assert.That(new TrainingSettings { ClassNoun = "dog" }.Method, Is.EqualTo(TrainingMethod.Coar), "CoAR stays the default");
        Assert.That(new TrainingSettings { ClassNoun = "dog" }.ToJson(), Does.Not.Contain("Method").And.Not.Contain("Templates"),
            "a CoAR run's stored settings are what they were, so its checkpoints still resume");
    }

    [Test]
    public void ItStartsRandomAtTheScaleOfATokenEmbeddingAndLearnsOnlyTheInputEmbedding()
    {
        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu"));
        var s = TrainingSettings.ForTextualInversion("dog") with { Steps = 4, Resolution = 64, CheckpointEvery = 0 };
        var photos = TrainingData.ImageFiles(TrainCommandTests.Photos());
        using var job = TrainingJob.Prepare(engine, s, photos, new TrainingOutputs(TinyModels.NewTempDir("ti-job")));
        var trainer = job.Trainer;
        trainer.Initialize();
        var start = (float[])trainer.Concept.Text.Clone();
        Assert.That((trainer.Concept.Depth, trainer.Concept.TextSlots, trainer.Concept.ImageSlots), Is.EqualTo((1, 1, 0)));

        // The embedding scale: the RMS of the class prompt's embedding rows, read from the checkpoint's table.
        var ids = engine.Prompt.Build(s.ClassPrompt, 64, 64).Ids;
        var embedding = Managed.Backends.TensorReader.ReadFloats(engine.Backend, engine.Model.Weights.Embedding);
        int d = engine.Model.Config.HiddenSize;
        double squares = ids.Sum(id => Enumerable.Range(0, d).Sum(j => (double)embedding[id * d + j] * embedding[id * d + j]));
        double tokenRms = Math.Sqrt(squares / (ids.Length * d));
        double startRms = Math.Sqrt(start.Sum(v => (double)v * v) / start.Length);
        Assert.That(startRms, Is.EqualTo(tokenRms).Within(0.5 * tokenRms), "a Gaussian of d draws with the tokens' RMS as its deviation");

        trainer.Train();
        Assert.That(trainer.Concept.Text, Is.Not.EqualTo(start), "the [V] embedding learned");
        Assert.That(trainer.Concept.Text.All(float.IsFinite), Is.True);

        var other = TrainingSettings.ForTextualInversion("dog") with { Steps = 4, Resolution = 64, Seed = 1 };
        using var otherJob = TrainingJob.Prepare(engine, other, photos, new TrainingOutputs(TinyModels.NewTempDir("ti-job")));
        otherJob.Trainer.Initialize();
        Assert.That(otherJob.Trainer.Concept.Text, Is.Not.EqualTo(start), "the start is seeded");

        var image = engine.Generate([new ImagePrompt("a photo of [V] dog on the beach", 64, 64, 3, new SamplingSettings()) { Concepts = [trainer.Concept] }])[0];
        Assert.That(image.Image.Width, Is.EqualTo(64));
    }

    [Test]
    public void TheCliAndTheLibraryTrainTheSameEmbeddingAndTheFileSaysHow()
    {
        string photos = TrainCommandTests.Photos(), work = TinyModels.NewTempDir("ti");
        string concept = Path.Combine(work, "cli", "dog.safetensors");
        var (code, output, error) = CliHarness.Run("train", "--method", "textual-inversion", "--model", TinyModels.Default, "--images", photos,
            "--class", "dog", "--steps", "5", "--resolution", "64", "--seed", "2", "--device", "cpu", "--out", concept);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("method: textual-inversion").And.Contain($"prompts: {TrainingSettings.PersonalArTemplates.Count} templates"));
        Assert.That(Directory.Exists(Path.Combine(work, "cli", "class-images")), Is.False, "no class images: no DPP");

        var info = ConceptFile.Load(concept);
        Assert.That(info.Metadata["method"], Is.EqualTo("textual-inversion"));
        var stored = TrainingSettings.FromJson(info.Metadata["training_settings"]);
        Assert.That((stored.Method, stored.TextInit, stored.Templates!.Length, stored.Depth), Is.EqualTo((TrainingMethod.TextualInversion, TextInit.Random, 18, (int?)1)));
        Assert.That((info.Concept.Depth, info.Concept.TextSlots, info.Concept.ImageSlots, info.Concept.Parameters),
            Is.EqualTo((1, 1, 0, info.Concept.Hidden)));

        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu"));
        var settings = TrainingSettings.ForTextualInversion("dog") with { Steps = 5, Resolution = 64, Seed = 2 };
        var library = engine.TrainConcept(TrainingData.ImageFiles(photos), settings, Path.Combine(work, "library"));
        Assert.That(library.Text, Is.EqualTo(info.Concept.Text));

        (code, output, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", concept, "--prompt", "a photo of [V] dog in the snow",
            "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "images"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);

        (code, _, error) = CliHarness.Run("train", "--method", "textual-inversion", "--kind", "style", "--model", TinyModels.Default, "--images", photos,
            "--device", "cpu", "--out", Path.Combine(work, "style.safetensors"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("--method textual-inversion"));
    }
}
