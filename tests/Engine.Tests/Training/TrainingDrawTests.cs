using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

/// <summary>
/// Data as Lumina-mGPT draws it: the photo order shuffled every epoch, a random crop offset every pass, both pure
/// functions of (seed, pass) so a resumed run draws the same; and the class-image cache keyed by all that makes them.
/// </summary>
public class TrainingDrawTests
{
    [Test]
    public void EveryEpochDrawsEachItemOnceInItsOwnShuffledOrder()
    {
        const int count = 5, epochs = 40;
        var draws = Enumerable.Range(0, count * epochs).Select(p => TrainingDraws.Item(7, TrainingDraws.Stream.SubjectOrder, p, count)).ToArray();
        foreach (var epoch in draws.Chunk(count))
            Assert.That(epoch.Order(), Is.EqualTo(Enumerable.Range(0, count)));
        Assert.That(draws.Chunk(count).Select(e => string.Join(",", e)).Distinct().Count(), Is.GreaterThan(epochs / 2), "orders vary between epochs");
        Assert.That(Enumerable.Range(0, count * epochs).Select(p => TrainingDraws.Item(7, TrainingDraws.Stream.SubjectOrder, p, count)), Is.EqualTo(draws),
            "a pure function of (seed, pass)");
        Assert.That(Enumerable.Range(0, count * epochs).Select(p => TrainingDraws.Item(8, TrainingDraws.Stream.SubjectOrder, p, count)), Is.Not.EqualTo(draws),
            "another seed, another order");
        Assert.That(Enumerable.Range(0, count * epochs).Select(p => TrainingDraws.Item(7, TrainingDraws.Stream.ClassOrder, p, count)), Is.Not.EqualTo(draws),
            "class images are shuffled independently");
    }

    [Test]
    public void CropOffsetsCoverTheSlackUniformly()
    {
        var seen = new int[11];
        for (int pass = 0; pass < 11_000; pass++) seen[TrainingDraws.Offset(3, TrainingDraws.Stream.CropLeft, pass, 10)]++;
        Assert.That(seen, Is.All.InRange(850, 1150), "every offset 0..10 about equally often");
        Assert.That(TrainingDraws.Offset(3, TrainingDraws.Stream.CropLeft, 5, 0), Is.Zero, "no slack, no offset");
    }

    [Test]
    public void APhotoIsCroppedAtANewSeededOffsetEveryPass()
    {
        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));
        var ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        string file = Path.Combine(TinyModels.NewTempDir("crop"), "wide.png");
        var pixels = new byte[80 * 64 * 3];
        var rng = new Random(1);
        rng.NextBytes(pixels);
        ImageFile.SavePng(new RgbImage(80, 64, pixels), file);

        var random = TrainingImages.FromFiles([file], 64, engine.Vqgan, ids, CropMode.Random, seed: 4);
        Assert.That(random.MaxImageTokens, Is.EqualTo(ImageLayout.For(64, 64, ids).SequenceLength), "the 80x64 photo trains as 64x64 crops (17 offsets)");
        var crops = Enumerable.Range(0, 12).Select(p => string.Join(",", random.Draw(0, p).ImageTokens)).ToArray();
        Assert.That(crops.Distinct().Count(), Is.GreaterThan(4), "the offset changes from pass to pass");
        var again = TrainingImages.FromFiles([file], 64, engine.Vqgan, ids, CropMode.Random, seed: 4);
        Assert.That(Enumerable.Range(0, 12).Select(p => string.Join(",", again.Draw(0, p).ImageTokens)), Is.EqualTo(crops), "reproducible from the seed");
        var other = TrainingImages.FromFiles([file], 64, engine.Vqgan, ids, CropMode.Random, seed: 5);
        Assert.That(Enumerable.Range(0, 12).Select(p => string.Join(",", other.Draw(0, p).ImageTokens)), Is.Not.EqualTo(crops));

        var center = TrainingImages.FromFiles([file], 64, engine.Vqgan, ids, CropMode.Center, seed: 4);
        Assert.That(Enumerable.Range(0, 5).Select(p => center.Draw(0, p).ImageTokens), Is.All.EqualTo(center.Centered(0).ImageTokens));
    }

    [Test]
    public void AnUnreadablePhotoIsNamedBeforeAnyWork()
    {
        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));
        string file = Path.Combine(TinyModels.NewTempDir("bad"), "broken.jpg");
        File.WriteAllBytes(file, [0xFF, 0xD8, 0xFF, 0x00, 0x13]);
        var e = Assert.Throws<InvalidDataException>(() =>
            TrainingImages.FromFiles([file], 64, engine.Vqgan, engine.Prompt.Vocabulary.ToImageTokenIds(), CropMode.Random, 0));
        Assert.That(e!.Message, Does.Contain(file));
    }

    [Test]
    public void TheClassImageCacheKeyCoversWhatMakesTheImages()
    {
        var key = new TrainingData.ClassImageKey("a photo of a dog", new SamplingSettings(), "model-a", "cpu", 768, 0);
        string Dir(TrainingData.ClassImageKey k) => TrainingData.ClassImageDirectory("/runs", "dog", k);
        var variants = new[]
        {
            key with { Prompt = "a picture of a dog" },
            key with { Sampling = new SamplingSettings(Cfg: 3) },
            key with { Sampling = new SamplingSettings(ImageTopK: 100) },
            key with { Sampling = new SamplingSettings(Temperature: 0.9f) },
            key with { Model = "model-b" },
            key with { Backend = "cuda" },
            key with { Resolution = 512 },
            key with { Seed = 1 },
        };
        Assert.That(variants.Select(Dir).Append(Dir(key)).Distinct().Count(), Is.EqualTo(variants.Length + 1), "every field changes the folder");
        Assert.That(Dir(key with { }), Is.EqualTo(Dir(key)), "the same key, the same folder");
        Assert.That(Dir(key), Does.StartWith(Path.Combine("/runs", "class-images", "dog-")));
    }
}
