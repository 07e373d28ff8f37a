using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

public class TrainCommandTests
{
    /// <summary>A folder of JPEG "photos": smooth color fields of different aspect ratios.</summary>
    private static string Photos()
    {
        string dir = TinyModels.NewTempDir("photos");
        var sizes = new[] { (120, 90), (100, 100), (90, 140) };
        for (int n = 0; n < sizes.Length; n++)
        {
            var (w, h) = sizes[n];
            var pixels = new byte[w * h * 3];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int o = (y * w + x) * 3;
                    (pixels[o], pixels[o + 1], pixels[o + 2]) = ((byte)(x * 2 + n * 40), (byte)(y * 2), (byte)(128 + n * 30));
                }
            File.WriteAllBytes(Path.Combine(dir, $"photo{n}.jpg"), StbEncoder.Encode(new RgbImage(w, h, pixels), StbEncoder.Format.Jpeg, jpegQuality: 90));
        }
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not an image: skipped");
        return dir;
    }

    [Test]
    public void TrainsOnAFolderOfJpegsThenGeneratesWithTheConcept()
    {
        string work = TinyModels.NewTempDir("train");
        string concept = Path.Combine(work, "dog.safetensors");
        var (code, output, error) = CliHarness.Run("train", "--model", TinyModels.Default, "--images", Photos(), "--class", "dog",
            "--steps", "6", "--layers", "2", "--resolution", "64", "--class-images", "2", "--validate-every", "3",
            "--checkpoint-every", "2", "--device", "cpu", "--out", concept);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("3 training image(s), 64 px, random crops"));
        Assert.That(output, Does.Contain("memory plan on cpu"));
        Assert.That(output, Does.Contain("step     6/6").And.Contain("ntp").And.Contain("dpp").And.Contain("casr"));
        Assert.That(output, Does.Contain("wrote " + concept));
        Assert.That(File.Exists(concept), Is.True);
        Assert.That(File.Exists(Path.ChangeExtension(concept, ".checkpoint.safetensors")), Is.False, "the checkpoint goes once the run is done");
        Assert.That(Directory.GetFiles(Path.ChangeExtension(concept, ".validation"), "*.png"), Has.Length.EqualTo(2));
        Assert.That(Directory.GetFiles(Path.Combine(work, "class-images"), "0*.json", SearchOption.AllDirectories), Has.Length.EqualTo(2));
        var info = ConceptFile.Load(concept);
        Assert.That(info.Concept.Depth, Is.EqualTo(2));
        Assert.That(info.Metadata["steps"], Is.EqualTo("6"));
        // The recipe: in the run's first lines and in the concept's metadata.
        var lines = output.Split('\n');
        Assert.That(lines.TakeWhile(l => !l.StartsWith("step ")).Any(l => l.StartsWith("optimizer: AdamW(beta1 0.9, beta2 0.95")), output);
        var stored = TrainingSettings.FromJson(info.Metadata["training_settings"]);
        Assert.That((stored.Beta2, stored.WeightDecay, stored.GradientClip, stored.WarmupSteps, stored.ZLossWeight, stored.Depth, stored.Resolution),
            Is.EqualTo((0.95f, 0.1f, 4f, 5, 1e-5f, (int?)2, (int?)64)));
        Assert.That(info.Metadata["training_recipe"], Does.Contain("learning rate 0.01: 5 warmup step(s), then constant"));

        string images = Path.Combine(work, "images");
        (code, output, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", concept,
            "--prompt", "a photo of [V] dog on the beach", "--size", "64", "--device", "cpu", "--out", images);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        using var sidecar = JsonDocument.Parse(File.ReadAllText(Path.Combine(images, "00000-000.json")));
        Assert.That(sidecar.RootElement.GetProperty("concepts")[0].GetString(), Is.EqualTo(concept));

        (code, output, _) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", concept,
            "--prompt", "a photo of a dog", "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "bad"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(output, Does.Contain("[V]").And.Contain("does not appear"));
    }

    [Test]
    public void TwoConceptsComposeUnderTheIdentityMask()
    {
        string work = TinyModels.NewTempDir("compose");
        string photos = Photos(), dog = Path.Combine(work, "dog.safetensors"), style = Path.Combine(work, "ink.safetensors");
        Assert.That(CliHarness.Run("train", "--model", TinyModels.Default, "--images", photos, "--class", "dog", "--steps", "2",
            "--layers", "2", "--resolution", "64", "--no-dpp", "--device", "cpu", "--out", dog).ExitCode, Is.EqualTo(ExitCodes.Ok));
        Assert.That(CliHarness.Run("train", "--model", TinyModels.Default, "--images", Path.Combine(photos, "photo1.jpg"), "--kind", "style",
            "--class", "ink", "--steps", "2", "--resolution", "64", "--device", "cpu", "--out", style).ExitCode, Is.EqualTo(ExitCodes.Ok));
        Assert.That(ConceptFile.Load(style).Concept.Placeholder, Is.EqualTo("[S]"));

        string Compose(string dir, params string[] extra)
        {
            var (code, output, error) = CliHarness.Run(["compose", "--model", TinyModels.Default, "--concept", dog, "--concept", style,
                "--prompt", "a photo of [V] dog in [S] style", "--size", "64", "--seed", "4", "--device", "cpu", "--out", Path.Combine(work, dir), .. extra]);
            Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
            return File.ReadAllText(Path.Combine(work, dir, "00000-000.json"));
        }
        string masked = Compose("masked"), unmasked = Compose("unmasked", "--no-identity-mask");
        Assert.That(Tokens(masked), Is.Not.EqualTo(Tokens(unmasked)), "the identity mask changes what the concepts see");

        var (clash, output2, _) = CliHarness.Run("compose", "--model", TinyModels.Default, "--concept", dog, "--concept", dog,
            "--prompt", "[V] and [V]", "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "clash"));
        Assert.That(clash, Is.EqualTo(ExitCodes.Usage));
        Assert.That(output2, Does.Contain("two concepts use the placeholder [V]"));
    }

    private static string Tokens(string sidecar) => JsonDocument.Parse(sidecar).RootElement.GetProperty("image_tokens").GetRawText();

    [Test]
    public void ARunKilledMidwayResumesBitIdentical()
    {
        string work = TinyModels.NewTempDir("resume");
        string photos = Photos();
        string[] Args(string output) => ["train", "--model", TinyModels.Default, "--images", photos, "--class", "dog", "--steps", "40",
            "--layers", "2", "--resolution", "64", "--class-images", "2", "--checkpoint-every", "5", "--device", "cpu", "--out", output];
        string whole = Path.Combine(work, "whole.safetensors"), resumed = Path.Combine(work, "resumed.safetensors");
        Assert.That(CliHarness.Run(Args(whole)).ExitCode, Is.EqualTo(ExitCodes.Ok));

        // The same run, killed (SIGKILL: no chance to clean up) once a checkpoint exists, then started again.
        string checkpoint = Path.ChangeExtension(resumed, ".checkpoint.safetensors");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, .. Args(resumed)])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using (var p = System.Diagnostics.Process.Start(psi)!)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(checkpoint) && !p.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(10);
            if (!p.HasExited) p.Kill();
            p.WaitForExit();
            if (p.ExitCode == 0) Assert.Inconclusive("the run finished before it could be killed");
        }
        Assert.That(File.Exists(resumed), Is.False, "no concept file from a killed run");
        var (code, output, error) = CliHarness.Run(Args(resumed));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("resuming from step"));
        var a = ConceptFile.Load(whole).Concept;
        var b = ConceptFile.Load(resumed).Concept;
        Assert.That(b.Text, Is.EqualTo(a.Text));
        Assert.That(b.Image, Is.EqualTo(a.Image));
    }

    [Test]
    public void TheRecipeIsInTheHelp()
    {
        var (code, output, error) = CliHarness.Run("train", "--help");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        foreach (var option in new[] { "--lr", "--beta1", "--beta2", "--weight-decay", "--decay", "--clip", "--warmup", "--schedule", "--min-lr", "--z-loss",
                     "--accumulate", "--crop", "--target", "--resolution" })
            Assert.That(output, Does.Contain(option));
        Assert.That(output, Does.Contain("AdamW(0.9, 0.95)").And.Contain("weight decay 0.1").And.Contain("gradient clip 4").And.Contain("z-loss 1E-05"));
    }

    /// <summary>`coar train` and CoarEngine.TrainConcept are one code path: the same settings give the same tokens.</summary>
    [Test]
    public void TheCliAndTheLibraryTrainTheSameConcept()
    {
        string photos = Photos(), work = TinyModels.NewTempDir("same");
        string concept = Path.Combine(work, "cli", "dog.safetensors");
        var (code, output, error) = CliHarness.Run("train", "--model", TinyModels.Default, "--images", photos, "--class", "dog", "--steps", "3",
            "--layers", "2", "--resolution", "64", "--class-images", "2", "--accumulate", "2", "--seed", "5", "--schedule", "cosine",
            "--device", "cpu", "--out", concept);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);

        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu"));
        var settings = new TrainingSettings
        {
            ClassNoun = "dog", Steps = 3, Depth = 2, Resolution = 64, ClassImages = 2, Accumulation = 2, Seed = 5, Schedule = LearningRateSchedule.Cosine,
        };
        var library = engine.TrainConcept(TrainingData.ImageFiles(photos), settings, Path.Combine(work, "library"));
        var cli = ConceptFile.Load(concept).Concept;
        Assert.That(library.Text, Is.EqualTo(cli.Text));
        Assert.That(library.Image, Is.EqualTo(cli.Image));

        var e = Assert.Throws<TrainingSettingException>(() => engine.TrainConcept(TrainingData.ImageFiles(photos), settings with { Resolution = 1024 }, work));
        Assert.That(e!.Setting, Is.EqualTo(nameof(TrainingSettings.Resolution)), "the library checks the resolution against its target as the CLI does");
    }

    private static IEnumerable<TestCaseData> BadOptions()
    {
        TestCaseData Case(string option, params string[] args) => new TestCaseData(option, args).SetArgDisplayNames(string.Join(" ", args));
        yield return Case("--layers", "--layers", "4");
        yield return Case("--layers", "--layers", "0");
        yield return Case("--layers", "--layers", "-2");
        yield return Case("--steps", "--steps", "0");
        yield return Case("--steps", "--steps", "-5");
        yield return Case("--lr", "--lr", "NaN");
        yield return Case("--lr", "--lr", "-1");
        yield return Case("--lr", "--lr", "0");
        yield return Case("--lr", "--lr", "Infinity");
        yield return Case("--weight-decay", "--lr", "1e30");
        yield return Case("--beta1", "--beta1", "1.5");
        yield return Case("--beta2", "--beta2", "NaN");
        yield return Case("--weight-decay", "--weight-decay", "-1");
        yield return Case("--clip", "--clip", "-1");
        yield return Case("--warmup", "--warmup", "-1");
        yield return Case("--min-lr", "--schedule", "cosine", "--min-lr", "5");
        yield return Case("--z-loss", "--z-loss", "NaN");
        yield return Case("--class-images", "--class-images", "0");
        yield return Case("--accumulate", "--accumulate", "0");
        yield return Case("--resolution", "--resolution", "33");
        yield return Case("--resolution", "--resolution", "0");
        yield return Case("--resolution", "--resolution", "2048");
        yield return Case("--seed", "--seed", "-1");
        yield return Case("--checkpoint-every", "--checkpoint-every", "-1");
        yield return Case("--validate-every", "--validate-every", "-1");
        yield return Case("--class", "--class", "[S]");
        yield return Case("--class", "--class", " ");
        yield return Case("--placeholder", "--placeholder", "");
        yield return Case("--placeholder", "--placeholder", "{class}");
        yield return Case("--validation-prompt", "--validation-prompt", "a dog");
        yield return Case("--out", "--out", "/tmp");
    }

    /// <summary>
    /// Every setting a user can type that cannot work is a usage error (exit 2) naming the option, found before any
    /// class image is generated; nothing is written.
    /// </summary>
    [TestCaseSource(nameof(BadOptions))]
    public void ABadSettingIsAUsageErrorNamingItsOptionBeforeAnyWork(string option, string[] args)
    {
        string work = TinyModels.NewTempDir("bad-option");
        var defaults = new Dictionary<string, string>
        {
            ["--images"] = Photos(), ["--class"] = "dog", ["--resolution"] = "64", ["--out"] = Path.Combine(work, "dog.safetensors"),
        };
        var given = defaults.Where(d => !args.Contains(d.Key)).SelectMany(d => new[] { d.Key, d.Value });
        var (code, output, error) = CliHarness.Run(["train", "--model", TinyModels.Default, "--device", "cpu", .. given, .. args]);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), output + error);
        Assert.That(output + error, Does.Contain(option).And.Not.Contain("internal error"));
        Assert.That(Directory.GetFileSystemEntries(work), Is.Empty, "no class images, no checkpoint, no concept");
    }

    [Test]
    public void AnExplicitDepthBeyondTheModelNamesItsLayerCount()
    {
        var (code, output, error) = CliHarness.Run("train", "--model", TinyModels.Default, "--images", Photos(), "--class", "dog", "--layers", "9",
            "--device", "cpu", "--out", Path.Combine(TinyModels.NewTempDir("deep"), "dog.safetensors"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(output + error, Does.Contain("--layers: the depth 9 exceeds the model's 3 layers"));
    }

    private static IEnumerable<TestCaseData> BadInputs()
    {
        yield return new TestCaseData("missing folder", (Func<string>)(() => "/nonexistent/photos")).SetArgDisplayNames("missing folder");
        yield return new TestCaseData("a text file", (Func<string>)(() => Path.Combine(Photos(), "notes.txt"))).SetArgDisplayNames("a text file");
        yield return new TestCaseData("a broken JPEG", (Func<string>)(() =>
        {
            string dir = Photos();
            File.WriteAllBytes(Path.Combine(dir, "photo9.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, 0x00]);
            return dir;
        })).SetArgDisplayNames("a broken JPEG");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void ABadPhotoFolderIsABadInputNamingIt(string what, Func<string> images)
    {
        string work = TinyModels.NewTempDir("bad-input");
        string path = images();
        var (code, output, error) = CliHarness.Run("train", "--model", TinyModels.Default, "--images", path, "--class", "dog", "--resolution", "64",
            "--device", "cpu", "--out", Path.Combine(work, "dog.safetensors"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput), what + ": " + output + error);
        Assert.That(output + error, Does.Not.Contain("internal error"));
        Assert.That(Directory.GetFileSystemEntries(work), Is.Empty, "the photos are read before any class image is made");
    }

    [Test]
    public void AFolderWithoutImagesIsNamed()
    {
        string empty = TinyModels.NewTempDir("empty");
        var (code, output, _) = CliHarness.Run("train", "--model", TinyModels.Default, "--images", empty, "--class", "dog",
            "--out", Path.Combine(empty, "x.safetensors"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(output, Does.Contain(empty).And.Contain("no JPEG, PNG"));
    }
}
