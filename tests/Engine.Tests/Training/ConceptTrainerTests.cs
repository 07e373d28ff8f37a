using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

/// <summary>CoAR training end to end on the tiny model at 64 pixels (4x4 latents): fast enough to run many steps.</summary>
public class ConceptTrainerTests
{
    private static CoarEngine? _engine;
    private static CoarEngine Engine => _engine ??= CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));

    [OneTimeTearDown]
    public void TearDown() => _engine?.Dispose();

    private static readonly Lazy<List<TrainingExample>> Subject = new(() => TinyPhotos.Subject(Engine));

    private static readonly Lazy<List<TrainingExample>> ClassImages = new(() =>
    {
        var key = new TrainingData.ClassImageKey("a photo of a dog", TrainingData.ClassImageSampling, Engine.Fingerprint, "cpu", 64, 3);
        return TrainingData.ClassImages(Engine, key, 2, TinyModels.NewTempDir("class"));
    });

    private static TrainingSettings Settings(int steps = 4) => new()
    {
        ClassNoun = "dog", Steps = steps, Depth = 2, Resolution = 64, ClassImages = 2, LearningRate = 2e-2f,
    };

    private static ConceptTrainer Trainer(TrainingSettings s)
    {
        var t = new ConceptTrainer(Engine, s, Subject.Value, s.Dpp ? ClassImages.Value : []);
        t.Initialize();
        return t;
    }

    [Test]
    public void TrainingLowersTheSubjectLoss()
    {
        var s = Settings(40) with { Dpp = false };
        using var t = Trainer(s);
        var losses = new List<double>();
        t.Train(progress: new SyncProgress<TrainingProgress>(p => losses.Add(p.Losses.Ntp)));
        Assert.That(losses, Has.Count.EqualTo(40));
        // Each epoch draws both photos in a shuffled order: each photo's loss must fall, by a margin random drift cannot explain.
        var photoOf = Enumerable.Range(0, 40).Select(step => TrainingDraws.Item(s.Seed, TrainingDraws.Stream.SubjectOrder, step, 2)).ToArray();
        Assert.That(photoOf.Chunk(2).Select(c => c.Order().ToArray()), Is.All.EqualTo(new[] { 0, 1 }), "every epoch draws each photo once");
        Assert.That(photoOf.Chunk(2).Select(c => c[0]).Distinct().Count(), Is.EqualTo(2), "the order changes between epochs");
        for (int photo = 0; photo < 2; photo++)
        {
            var own = losses.Where((_, i) => photoOf[i] == photo).ToList();
            Assert.That(own[^1], Is.LessThan(own[0] - 0.5), $"photo {photo}: NTP loss {own[0]:F3} -> {own[^1]:F3}");
            Assert.That(own.Zip(own.Skip(1)).Count(p => p.Second > p.First), Is.LessThan(3), "the loss falls step after step");
        }
    }

    [Test]
    public void InitializationUsesTheFrozenModelsStatistics()
    {
        using var t = Trainer(Settings());
        var c = t.Concept;
        Assert.That(c.Text.Any(v => v != 0), Is.True, "text tokens start from the class noun's hidden states");
        Assert.That(c.ImageVector(0, 0).ToArray(), Is.Not.EqualTo(c.ImageVector(1, 0).ToArray()), "each layer has its own mean");
        t.Train(1);
        Assert.That(t.LastLosses.Casr, Is.Zero, "the first step starts exactly at the CASR mean");
        t.Train(2);
        Assert.That(t.LastLosses.Casr, Is.GreaterThan(0), "one update moves the image tokens off the CASR mean");
        Assert.That(t.LastLosses.Casr, Is.LessThan(1e-1), "but not far");
    }

    [Test]
    public void NoDppAndNoCasrChangeTheRun()
    {
        float[] Run(TrainingSettings s)
        {
            using var t = Trainer(s);
            t.Train();
            return [.. t.Concept.Text, .. t.Concept.Image];
        }
        var full = Run(Settings());
        var noDpp = Run(Settings() with { Dpp = false });
        var noCasr = Run(Settings() with { Casr = false });
        Assert.That(noDpp, Is.Not.EqualTo(full));
        Assert.That(noCasr, Is.Not.EqualTo(full));
        using var t = Trainer(Settings() with { Dpp = false, Casr = false });
        t.Train(1);
        Assert.That(t.LastLosses.Dpp, Is.Zero);
        Assert.That(t.LastLosses.Casr, Is.Zero);
    }

    [Test]
    public void AResumedRunEndsBitIdenticalToAnUninterruptedOne()
    {
        var s = Settings(6) with { Accumulation = 2, Schedule = LearningRateSchedule.Cosine, WarmupSteps = 2 };
        using var straight = Trainer(s);
        straight.Train();

        string checkpoint = Path.Combine(TinyModels.NewTempDir("ckpt"), "run.checkpoint.safetensors");
        using (var first = Trainer(s))
        {
            first.Train(3);
            first.SaveCheckpoint(checkpoint);
        }
        using var second = new ConceptTrainer(Engine, s, Subject.Value, ClassImages.Value);
        Assert.That(second.Resume(checkpoint), Is.EqualTo(3));
        second.Train();
        Assert.That(second.Concept.Text, Is.EqualTo(straight.Concept.Text));
        Assert.That(second.Concept.Image, Is.EqualTo(straight.Concept.Image));
        using var other = new ConceptTrainer(Engine, s with { Beta2 = 0.99f }, Subject.Value, ClassImages.Value);
        var e = Assert.Throws<InvalidDataException>(() => other.Resume(checkpoint), "a checkpoint of other settings is not resumed");
        Assert.That(e!.Message, Does.Contain("Beta2 was 0.95, now 0.99").And.Contain("--restart"));
    }

    [Test]
    public void ASavedConceptReloadsAndChangesGeneration()
    {
        using var t = Trainer(Settings(3));
        t.Train();
        string file = Path.Combine(TinyModels.NewTempDir("concept"), "dog.safetensors");
        t.SaveConcept(file);
        var info = ConceptFile.Load(file, Engine.Fingerprint);
        Assert.That(info.Concept.Text, Is.EqualTo(t.Concept.Text));
        Assert.That(info.Metadata["steps"], Is.EqualTo("3"));
        var stored = TrainingSettings.FromJson(info.Metadata["training_settings"]);
        Assert.That(stored, Is.EqualTo(t.Settings), "every effective setting is in the metadata");
        Assert.That(stored.Beta2, Is.EqualTo(0.95f));
        Assert.That(info.Metadata["training_recipe"], Does.Contain("AdamW(beta1 0.9, beta2 0.95").And.Contain("weight decay 0.1 on all tokens")
            .And.Contain("gradient clip 4").And.Contain("5 warmup step(s), then constant").And.Contain("z-loss 1E-05"));
        Assert.That(new FileInfo(file).Length, Is.LessThan(64 * 1024), "a concept is a small file");

        var plain = new ImagePrompt("a photo of a dog", 64, 64, 9, new SamplingSettings());
        var withConcept = new ImagePrompt("a photo of [V] dog", 64, 64, 9, new SamplingSettings()) { Concepts = [info.Concept] };
        var a = Engine.Generate([plain])[0].Tokens;
        var b = Engine.Generate([withConcept])[0].Tokens;
        Assert.That(b, Is.Not.EqualTo(a));

        var e = Assert.Throws<ArgumentException>(() => Engine.Generate([withConcept with { Caption = "a photo of a dog" }]));
        Assert.That(e!.Message, Does.Contain("[V]"));
        var other = Assert.Throws<InvalidDataException>(() => ConceptFile.Load(file, "0123456789abcdef"));
        Assert.That(other!.Message, Does.Contain("trained on base model"));
    }

    [Test]
    public void AHostTrainsAConceptThroughTheEngine()
    {
        string dir = TinyModels.NewTempDir("host");
        var files = Enumerable.Range(0, 2).Select(n =>
        {
            string path = Path.Combine(dir, $"p{n}.png");
            var pixels = Enumerable.Range(0, 80 * 80 * 3).Select(i => (byte)(i * (n + 3))).ToArray();
            CoAR.Engine.Managed.Imaging.ImageFile.SavePng(new CoAR.Engine.Managed.Imaging.RgbImage(80, 80, pixels), path);
            return path;
        }).ToList();
        var steps = new List<int>();
        var concept = Engine.TrainConcept(files, Settings(3) with { ClassImages = 1 }, dir, new SyncProgress<TrainingProgress>(p => steps.Add(p.Step)));
        Assert.That(steps, Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(concept.Depth, Is.EqualTo(2));
        Assert.That(Directory.GetFiles(dir, "0*.json", SearchOption.AllDirectories), Has.Length.EqualTo(1), "one cached class image");
        Assert.That(Directory.GetFiles(dir, "key.json", SearchOption.AllDirectories), Has.Length.EqualTo(1), "and what made it");
    }
}
