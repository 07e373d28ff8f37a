using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Tests.Cli;
using CoAR.Engine.Tests.Model;
using CoAR.Engine.Tests.Training;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Lora;

/// <summary>
/// LoRA through the trainer's machinery on the tiny model: the loss falls, a killed-and-resumed run ends bit-identical,
/// the adapter directory records the run, the library and `coar train --method lora` share TrainingJob, and
/// `coar generate --lora` applies it unmerged or merged.
/// </summary>
[NonParallelizable]
public class LoraTrainingTests
{
    private static CoarEngine? _engine;
    private static CoarEngine Engine => _engine ??= CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));

    [OneTimeTearDown]
    public void TearDown() => _engine?.Dispose();

    private static readonly Lazy<List<TrainingExample>> Subject = new(() => TinyPhotos.Subject(Engine));

    private static TrainingSettings Settings(int steps) =>
        new TrainingSettings { ClassNoun = "dog", Steps = steps, Resolution = 64, Dpp = false }.ForLora() with
        {
            LoraRank = 4, LoraAlpha = 8, LearningRate = 1e-2f, WarmupSteps = 0,
        };

    [Test]
    public void TrainingLowersTheLossAndLeavesTheModelPlain()
    {
        var s = Settings(30);
        var losses = new List<double>();
        using (var t = new ConceptTrainer(Engine, s, Subject.Value, []))
        {
            t.Initialize();
            Assert.That(Engine.Model.Adapter, Is.Not.Null, "the adapter is on the model while it trains");
            Assert.That(t.Parameters, Is.EqualTo(Engine.Model.Config.NumLayers * 4 * (2 * 64 + 2 * (64 + Engine.Model.Config.KvDim))));
            Assert.That(t.MemoryPlan.ToString(), Does.Contain("trained weights and their gradients"));
            t.Train(progress: new SyncProgress<TrainingProgress>(p => losses.Add(p.Losses.Ntp)));
        }
        Assert.That(Engine.Model.Adapter, Is.Null, "disposing the trainer takes its adapter off the model");
        double first = (losses[0] + losses[1]) / 2, last = (losses[^1] + losses[^2]) / 2;
        Assert.That(last, Is.LessThan(first - 0.5), $"NTP {first:F3} -> {last:F3}");
    }

    [Test]
    public void AResumedRunEndsBitIdenticalToAnUninterruptedOne()
    {
        var s = Settings(6) with { Accumulation = 2, Schedule = LearningRateSchedule.Cosine, WarmupSteps = 2 };
        float[] straight;
        using (var t = new ConceptTrainer(Engine, s, Subject.Value, []))
        {
            t.Train();
            straight = Values(t.Lora!);
        }
        string checkpoint = Path.Combine(TinyModels.NewTempDir("lora-ckpt"), "run.checkpoint.safetensors");
        using (var first = new ConceptTrainer(Engine, s, Subject.Value, []))
        {
            first.Train(3);
            first.SaveCheckpoint(checkpoint);
        }
        using (var second = new ConceptTrainer(Engine, s, Subject.Value, []))
        {
            Assert.That(second.Resume(checkpoint), Is.EqualTo(3));
            second.Train();
            Assert.That(Values(second.Lora!), Is.EqualTo(straight));
        }
        using var other = new ConceptTrainer(Engine, s with { LoraAlpha = 4 }, Subject.Value, []);
        var e = Assert.Throws<InvalidDataException>(() => other.Resume(checkpoint));
        Assert.That(e!.Message, Does.Contain("LoraAlpha was 8, now 4").And.Contain("--restart"));
    }

    [Test]
    public void AHostTrainsThroughTheEngineAndTheAdapterRecordsTheRun()
    {
        string dir = TinyModels.NewTempDir("lora-host");
        var files = Enumerable.Range(0, 2).Select(n =>
        {
            string path = Path.Combine(dir, $"p{n}.png");
            var pixels = Enumerable.Range(0, 80 * 80 * 3).Select(i => (byte)(i * (n + 3))).ToArray();
            Managed.Imaging.ImageFile.SavePng(new Managed.Imaging.RgbImage(80, 80, pixels), path);
            return path;
        }).ToList();
        string adapterDir = Path.Combine(dir, "dog-lora");
        var steps = new List<int>();
        var adapter = Engine.TrainLora(files, Settings(3) with { LoraTargets = "q,v,down" }, dir, adapterDir, new SyncProgress<TrainingProgress>(p => steps.Add(p.Step)));
        Assert.That(steps, Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(adapter.Targets, Is.EqualTo(new[] { Projection.Q, Projection.V, Projection.Down }));
        var info = PeftAdapterFile.Load(adapterDir);
        Assert.That(info.Adapter[1, Projection.Down].B, Is.EqualTo(adapter[1, Projection.Down].B));
        Assert.That(info.Metadata["method"], Is.EqualTo("lora"));
        Assert.That(info.Metadata["steps"], Is.EqualTo("3"));
        Assert.That(info.Metadata["base_model"], Is.EqualTo(Engine.Fingerprint));
        var stored = TrainingSettings.FromJson(info.Metadata["training_settings"]);
        Assert.That((stored.Method, stored.LoraRank, stored.LoraAlpha, stored.LoraTargets, stored.Placeholder),
            Is.EqualTo((TrainingMethod.Lora, (int?)4, (float?)8, "q,v,down", TrainingSettings.LoraIdentifier)));
        Assert.That(info.Metadata["training_recipe"], Does.Contain("method: LoRA rank 4, alpha 8 (scale 2) on q_proj, v_proj, down_proj"));
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapterDir, PeftAdapterFile.ConfigFileName)));
        Assert.That(config.RootElement.GetProperty("lora_alpha").GetDouble(), Is.EqualTo(8));
    }

    [Test]
    public void TheCliTrainsAnAdapterAndGeneratesWithItUnmergedOrMerged()
    {
        string work = TinyModels.NewTempDir("lora-cli");
        string adapter = Path.Combine(work, "dog-lora");
        var (code, output, error) = CliHarness.Run("train", "--method", "lora", "--model", TinyModels.Default, "--images", TrainCommandTests.Photos(),
            "--class", "dog", "--steps", "4", "--lora-rank", "2", "--lora-targets", "q_proj,k_proj,v_proj,o", "--resolution", "64",
            "--class-images", "1", "--checkpoint-every", "2", "--validate-every", "4", "--device", "cpu", "--out", adapter);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("method: LoRA rank 2").And.Contain("memory plan on cpu").And.Contain("step     4/4"));
        Assert.That(output, Does.Contain($"wrote {adapter} (LoRA adapter, PEFT layout)"));
        Assert.That(File.Exists(Path.Combine(adapter, PeftAdapterFile.WeightsFileName)) && File.Exists(Path.Combine(adapter, PeftAdapterFile.ConfigFileName)));
        Assert.That(File.Exists(adapter + ".checkpoint.safetensors"), Is.False, "the checkpoint goes once the run is done");
        Assert.That(Directory.GetFiles(adapter + ".validation", "*.png"), Has.Length.EqualTo(1));

        var sidecars = new Dictionary<string, JsonElement>();
        foreach (var (mode, extra) in new[] { ("unmerged", Array.Empty<string>()), ("merged", new[] { "--lora-merge" }) })
        {
            string images = Path.Combine(work, mode);
            (code, output, error) = CliHarness.Run(["generate", "--model", TinyModels.Default, "--lora", adapter, .. extra, "--prompt", "a photo of sks dog",
                "--size", "64", "--seed", "5", "--device", "cpu", "--out", images]);
            Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
            Assert.That(error, Does.Contain(mode == "merged" ? "merged into the loaded weights" : "applied unmerged"));
            sidecars[mode] = JsonDocument.Parse(File.ReadAllText(Path.Combine(images, "00000-000.json"))).RootElement.Clone();
            Assert.That(sidecars[mode].GetProperty("lora_mode").GetString(), Is.EqualTo(mode));
        }
        Assert.That(sidecars["merged"].GetProperty("image_tokens").ToString(), Is.EqualTo(sidecars["unmerged"].GetProperty("image_tokens").ToString()),
            "merging changes how, not what");

        (code, _, error) = CliHarness.Run("train", "--method", "lora", "--model", TinyModels.Default, "--images", TrainCommandTests.Photos(),
            "--class", "dog", "--lora-targets", "q,attn", "--device", "cpu", "--out", Path.Combine(work, "bad"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("--lora-targets").And.Contain("'attn'"));
        (code, _, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--lora", Path.Combine(work, "missing"), "--prompt", "x",
            "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "none"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(Directory.Exists(Path.Combine(work, "none")), Is.False, "nothing is written for a bad adapter");
    }

    private static float[] Values(LoraAdapter adapter)
    {
        var v = new float[adapter.Parameters];
        adapter.CopyTo(v);
        return v;
    }
}
