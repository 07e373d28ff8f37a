using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tests.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

/// <summary>
/// PersonalAR on the tiny model: its settings, stage 2 continuing stage 1's concept with full q/k/v weights or LoRA
/// (the loss falls, a killed-and-resumed run ends bit-identical), the two-stage job through the library (outputs,
/// their records, stage 1 reused on a rerun), and `coar train --method personalar` then `coar generate --projections`.
/// </summary>
[NonParallelizable]
public class PersonalArTests
{
    private static CoarEngine? _engine;
    private static CoarEngine Engine => _engine ??= CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));

    [OneTimeTearDown]
    public void TearDown() => _engine?.Dispose();

    private static readonly Lazy<List<TrainingExample>> Subject = new(() => TinyPhotos.Subject(Engine));

    private static PersonalArSettings Settings(WeightTraining weights, int steps1, int steps2)
    {
        var stage1 = TrainingSettings.ForTextualInversion("dog") with { Steps = steps1, Resolution = 64, WarmupSteps = 0, Seed = 3 };
        return new PersonalArSettings(stage1, stage1.ForPersonalArStage2(weights) with { Steps = steps2, WarmupSteps = 0 });
    }

    [Test]
    public void TheStagesAreThePapersTextualInversionThenTheEmbeddingWithQkv()
    {
        var full = PersonalArSettings.For("dog");
        Assert.That((full.Stage1.Method, full.Stage1.Weights, full.Stage1.Steps), Is.EqualTo((TrainingMethod.TextualInversion, WeightTraining.None, 1500)));
        Assert.That((full.Stage2.Method, full.Stage2.Weights, full.Stage2.Steps, full.Stage2.LearningRate, full.Stage2.LoraProjections),
            Is.EqualTo((TrainingMethod.PersonalAr, WeightTraining.Full, TrainingSettings.PersonalArStage2Steps, TrainingSettings.FullFineTuneLearningRate, Projections.Qkv)));
        Assert.That((full.Stage2.Depth, full.Stage2.TextSlots, full.Stage2.ImageSlots, full.Stage2.Templates!.Length, full.Stage2.Dpp, full.Stage2.LoraRank),
            Is.EqualTo(((int?)1, 1, 0, 18, false, (int?)null)));
        var lora = PersonalArSettings.For("dog", WeightTraining.Lora);
        Assert.That((lora.Stage2.Weights, lora.Stage2.LoraRank, lora.Stage2.LearningRate), Is.EqualTo((WeightTraining.Lora, (int?)64, TrainingSettings.LoraLearningRate)));
        Assert.DoesNotThrow(full.Validate);
        Assert.That(full.Stage2.Describe()[0], Does.Contain("personalar stage 2").And.Contain("full weights of q_proj, k_proj, v_proj"));

        Assert.That(Assert.Throws<TrainingSettingException>(() => (full with { Stage2 = full.Stage2 with { Placeholder = "[W]" } }).Validate())!.Reason,
            Does.Contain("continues stage 1's concept"));
        Assert.That(Assert.Throws<TrainingSettingException>(() => (full.Stage2 with { Weights = WeightTraining.None }).Validate())!.ParamName, Is.EqualTo("Weights"));
        Assert.That(Assert.Throws<TrainingSettingException>(() => (full.Stage1 with { Weights = WeightTraining.Full }).Validate())!.Reason, Does.Contain("keeps the backbone frozen"));
        Assert.Throws<ArgumentException>(() => full.Stage1.ForPersonalArStage2(WeightTraining.None));
        var custom = PersonalArSettings.After(full.Stage1, WeightTraining.Lora, steps: 7, learningRate: 2e-4f, loraRank: 8, targets: "q,v");
        Assert.That((custom.Stage2.Steps, custom.Stage2.LearningRate, custom.Stage2.LoraRank, custom.Stage2.LoraAlpha, custom.Stage2.LoraProjections),
            Is.EqualTo((7, 2e-4f, (int?)8, (float?)null, new[] { Projection.Q, Projection.V })));
        Assert.That(Assert.Throws<TrainingSettingException>(() => PersonalArSettings.After(full.Stage1, WeightTraining.Full, loraRank: 8).Validate())!.ParamName,
            Is.EqualTo(nameof(TrainingSettings.LoraRank)), "full fine-tuning has no LoRA rank");
        Assert.That(TrainingSettings.FromJson(full.Stage2.ToJson()).ToJson(), Is.EqualTo(full.Stage2.ToJson()), "stage 2's settings store and read back");
        Assert.That(TrainingSettings.FromJson(full.Stage2.ToJson()).Weights, Is.EqualTo(WeightTraining.Full));
        Assert.That(full.Stage1.ToJson(), Does.Not.Contain("Weights"), "a frozen run's stored settings are as before");
    }

    [TestCase(WeightTraining.Full)]
    [TestCase(WeightTraining.Lora)]
    public void StageTwoContinuesTheConceptAndLowersTheLoss(WeightTraining weights)
    {
        var s = Settings(weights, 2, 25);
        Concept first;
        using (var t1 = new ConceptTrainer(Engine, s.Stage1, Subject.Value, []))
        {
            t1.Initialize();
            t1.Train();
            first = t1.Concept.Clone();
        }
        var stage2 = s.Stage2 with { LearningRate = weights == WeightTraining.Full ? 3e-3f : 1e-2f };
        var losses = new List<double>();
        using (var t2 = new ConceptTrainer(Engine, stage2, TrainingImages.FromExamples(Subject.Value), [], start: first))
        {
            t2.Initialize();
            Assert.That(t2.Concept.Text, Is.EqualTo(first.Text), "stage 2 starts from stage 1's embedding");
            int weightCount = weights == WeightTraining.Full
                ? Engine.Model.Config.NumLayers * 64 * (64 + 2 * Engine.Model.Config.KvDim)
                : Engine.Model.Config.NumLayers * 64 * (2 * 64 + 2 * (64 + Engine.Model.Config.KvDim));
            Assert.That(t2.Parameters, Is.EqualTo(first.Parameters + weightCount));
            Assert.That(Engine.Model.Adapter, Is.SameAs(t2.Weights!.Device));
            t2.Train(progress: new SyncProgress<TrainingProgress>(p => losses.Add(p.Losses.Ntp)));
            Assert.That(t2.Concept.Text, Is.Not.EqualTo(first.Text), "the embedding is trained on in stage 2");
        }
        Assert.That(Engine.Model.Adapter, Is.Null);
        double before = (losses[0] + losses[1]) / 2, after = (losses[^1] + losses[^2]) / 2;
        Assert.That(after, Is.LessThan(before - 0.3), $"NTP {before:F3} -> {after:F3}");

        using var wrong = new ConceptTrainer(Engine, s.Stage1, Subject.Value, []);
        Assert.Throws<ArgumentException>(() => new ConceptTrainer(Engine, stage2 with { Placeholder = "[W]" }, TrainingImages.FromExamples(Subject.Value), [], start: first));
    }

    [Test]
    public void AResumedStageTwoEndsBitIdenticalToAnUninterruptedOne()
    {
        var s = Settings(WeightTraining.Full, 1, 5);
        Concept first;
        using (var t1 = new ConceptTrainer(Engine, s.Stage1, Subject.Value, []))
        {
            t1.Train();
            first = t1.Concept.Clone();
        }
        var stage2 = s.Stage2 with { Accumulation = 2, LearningRate = 1e-3f };
        var images = TrainingImages.FromExamples(Subject.Value);
        float[] Values(ConceptTrainer t)
        {
            var deltas = ((TrainedWeights.Full)t.Weights!).Deltas;
            var v = new float[deltas.Parameters];
            deltas.CopyTo(v);
            return [.. t.Concept.Text, .. v];
        }

        float[] straight;
        using (var t = new ConceptTrainer(Engine, stage2, images, [], start: first))
        {
            t.Initialize();
            t.Train();
            straight = Values(t);
        }
        string checkpoint = Path.Combine(TinyModels.NewTempDir("personalar-ckpt"), "stage2.checkpoint.safetensors");
        using (var t = new ConceptTrainer(Engine, stage2, images, [], start: first))
        {
            t.Initialize();
            t.Train(2);
            t.SaveCheckpoint(checkpoint);
        }
        using (var t = new ConceptTrainer(Engine, stage2, images, [], start: first))
        {
            Assert.That(t.Resume(checkpoint), Is.EqualTo(2));
            t.Train();
            Assert.That(Values(t), Is.EqualTo(straight));
        }
        using var other = new ConceptTrainer(Engine, stage2 with { LoraTargets = "q,v" }, images, [], start: first);
        Assert.That(Assert.Throws<InvalidDataException>(() => other.Resume(checkpoint))!.Message, Does.Contain("LoraTargets").And.Contain("--restart"));
    }

    [Test]
    public void AHostRunsBothStagesAndARerunReusesStageOne()
    {
        string dir = TinyModels.NewTempDir("personalar-host");
        var files = Enumerable.Range(0, 2).Select(n =>
        {
            string path = Path.Combine(dir, $"p{n}.png");
            var pixels = Enumerable.Range(0, 80 * 80 * 3).Select(i => (byte)(i * (n + 5))).ToArray();
            Managed.Imaging.ImageFile.SavePng(new Managed.Imaging.RgbImage(80, 80, pixels), path);
            return path;
        }).ToList();
        string output = Path.Combine(dir, "dog-personalar");
        var s = Settings(WeightTraining.Full, 2, 2);
        var steps = new List<int>();
        var log = new List<string>();
        var result = Engine.TrainPersonalAr(files, s, dir, output, new SyncProgress<TrainingProgress>(p => steps.Add(p.Step)), log: new SyncProgress<string>(log.Add));
        Assert.That(steps, Is.EqualTo(new[] { 1, 2, 1, 2 }), "two steps of each stage");
        Assert.That(result.Deltas, Is.Not.Null);
        Assert.That(result.Deltas!.All.Any(d => d.Values.Any(v => v != 0)), "stage 2 changed the weights");
        Assert.That(result.Concept.Text, Is.Not.EqualTo(result.Stage1Concept.Text));

        var concept = ConceptFile.Load(Path.Combine(output, PersonalArJob.ConceptFileName), Engine.Fingerprint);
        Assert.That(concept.Concept.Text, Is.EqualTo(result.Concept.Text));
        Assert.That(concept.Metadata["method"], Is.EqualTo("personalar"));
        Assert.That(TrainingSettings.FromJson(concept.Metadata["training_settings"]).Weights, Is.EqualTo(WeightTraining.Full));
        Assert.That(TrainingSettings.FromJson(concept.Metadata["personalar_stage1_settings"]).Method, Is.EqualTo(TrainingMethod.TextualInversion));
        var stage1 = ConceptFile.Load(Path.Combine(output, PersonalArJob.Stage1FileName), Engine.Fingerprint);
        Assert.That(stage1.Concept.Text, Is.EqualTo(result.Stage1Concept.Text));
        Assert.That(stage1.Metadata["method"], Is.EqualTo("textual-inversion"));
        var projections = FineTunedProjections.Load(output);
        Assert.That(projections.Metadata["method"], Is.EqualTo("personalar"));
        Assert.That(projections.Values.Keys, Is.EquivalentTo(Enumerable.Range(0, Engine.Model.Config.NumLayers).SelectMany(l => Projections.Qkv.Select(p => (l, p)))));
        Assert.That(Directory.GetFiles(output, "*.checkpoint.safetensors"), Is.Empty, "the checkpoints go once the run is done");

        steps.Clear();
        log.Clear();
        var again = Engine.TrainPersonalAr(files, s, dir, output, new SyncProgress<TrainingProgress>(p => steps.Add(p.Step)), log: new SyncProgress<string>(log.Add));
        Assert.That(log, Has.Some.Contains("done in an earlier run"));
        Assert.That(steps, Is.EqualTo(new[] { 1, 2 }), "only stage 2 runs again");
        Assert.That(again.Stage1Concept.Text, Is.EqualTo(result.Stage1Concept.Text));
        Assert.That(again.Concept.Text, Is.EqualTo(result.Concept.Text), "the same stage 2 from the same stage 1");

        var changed = s with { Stage1 = s.Stage1 with { Steps = 3 }, Stage2 = s.Stage2 with { Steps = 2 } };
        var e = Assert.Throws<InvalidDataException>(() => Engine.TrainPersonalAr(files, changed, dir, output))!;
        Assert.That(e.Message, Does.Contain(PersonalArJob.Stage1FileName).And.Contain("Steps was 2, now 3").And.Contain("--restart"));
    }

    [Test]
    public void TheCliTrainsBothStagesAndGeneratesWithTheFineTunedWeights()
    {
        string work = TinyModels.NewTempDir("personalar-cli");
        string output = Path.Combine(work, "dog-personalar");
        var (code, stdout, error) = CliHarness.Run("train", "--method", "personalar", "--model", TinyModels.Default, "--images", TrainCommandTests.Photos(),
            "--class", "dog", "--steps", "2", "--stage2-steps", "2", "--resolution", "64", "--device", "cpu", "--out", output);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), stdout + error);
        Assert.That(stdout, Does.Contain("PersonalAR stage 1").And.Contain("PersonalAR stage 2").And.Contain("method: personalar stage 2"));
        Assert.That(stdout, Does.Contain($"generate with: coar generate --concept {Path.Combine(output, PersonalArJob.ConceptFileName)} --projections"));
        foreach (var file in new[] { PersonalArJob.ConceptFileName, PersonalArJob.Stage1FileName, FineTunedProjections.FileName })
            Assert.That(File.Exists(Path.Combine(output, file)), file);

        string images = Path.Combine(work, "images");
        (code, stdout, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", Path.Combine(output, PersonalArJob.ConceptFileName),
            "--projections", output, "--prompt", "a photo of [V] dog", "--size", "64", "--seed", "5", "--device", "cpu", "--out", images);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), stdout + error);
        Assert.That(error, Does.Contain($"fine-tuned weights: {3 * Engine.Model.Config.NumLayers} projections"));
        using var sidecar = JsonDocument.Parse(File.ReadAllText(Path.Combine(images, "00000-000.json")));
        Assert.That(sidecar.RootElement.GetProperty("projections").GetString(), Is.EqualTo(output));

        (code, _, error) = CliHarness.Run("train", "--method", "personalar", "--stage2", "lora", "--model", TinyModels.Default, "--images", TrainCommandTests.Photos(),
            "--class", "dog", "--steps", "1", "--stage2-steps", "1", "--lora-rank", "2", "--resolution", "64", "--device", "cpu", "--out", Path.Combine(work, "lora"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        Assert.That(PeftAdapterFile.Load(Path.Combine(work, "lora")).Adapter.Rank, Is.EqualTo(2));
        Assert.That(File.Exists(Path.Combine(work, "lora", PersonalArJob.ConceptFileName)));
    }

    [TestCase("--stage2", "lora", "--method", "coar", "belongs to --method personalar")]
    [TestCase("--stage2-steps", "0", "--method", "personalar", "--stage2-steps must be positive")]
    [TestCase("--stage2-lr", "-1", "--method", "personalar", "--stage2-lr must be a positive number")]
    [TestCase("--lora-rank", "4", "--method", "personalar", "--stage2 full fine-tunes the weights themselves")]
    [TestCase("--lora-targets", "q,attn", "--method", "personalar", "'attn'")]
    [TestCase("--kind", "style", "--method", "personalar", "no style variant")]
    public void BadPersonalArOptionsAreUsageErrors(string option, string value, string methodOption, string method, string expected)
    {
        string work = TinyModels.NewTempDir("personalar-bad");
        var (code, _, error) = CliHarness.Run("train", methodOption, method, option, value, "--model", TinyModels.Default, "--images", TrainCommandTests.Photos(),
            "--class", "dog", "--device", "cpu", "--out", Path.Combine(work, "out"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), error);
        Assert.That(error, Does.Contain(expected));
        Assert.That(Directory.Exists(Path.Combine(work, "out")), Is.False, "nothing is written");
    }

    [Test]
    public void BadProjectionFilesLeaveNothingBehind()
    {
        string work = TinyModels.NewTempDir("personalar-badfile");
        string notWeights = Path.Combine(work, "concept.safetensors");
        var writer = new Managed.SafeTensors.SafeTensorsWriter();
        writer.Add<float>("text", Managed.Tensors.DType.F32, [1, 4], new float[4]);
        writer.WriteTo(notWeights);
        foreach (var (arg, exit, expected) in new[] { (Path.Combine(work, "missing"), ExitCodes.Usage, "no such file"), (notWeights, ExitCodes.BadInput, "'text' is not a projection weight") })
        {
            var (code, _, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--projections", arg, "--prompt", "x", "--size", "64", "--device", "cpu",
                "--out", Path.Combine(work, "images"));
            Assert.That(code, Is.EqualTo(exit), error);
            Assert.That(error, Does.Contain(expected));
            Assert.That(Directory.Exists(Path.Combine(work, "images")), Is.False, "nothing is written for bad weights");
        }
    }
}
