using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

public class TrainCommandTests
{
    /// <summary>A folder of JPEG "photos": smooth color fields of different aspect ratios.</summary>
    internal static string Photos()
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
            File.WriteAllBytes(Path.Combine(dir, $"photo{n}.jpg"), Imaging.TestEncoders.Jpeg(new RgbImage(w, h, pixels), quality: 90));
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
        Assert.That(output, Does.Contain("3 training image(s) from 3 file(s)"));
        Assert.That(output, Does.Contain("memory plan on cpu"));
        Assert.That(output, Does.Contain("step     6/6").And.Contain("ntp").And.Contain("dpp").And.Contain("casr"));
        Assert.That(output, Does.Contain("wrote " + concept));
        Assert.That(File.Exists(concept), Is.True);
        Assert.That(File.Exists(Path.ChangeExtension(concept, ".checkpoint.safetensors")), Is.False, "the checkpoint goes once the run is done");
        Assert.That(Directory.GetFiles(Path.ChangeExtension(concept, ".validation"), "*.png"), Has.Length.EqualTo(2));
        Assert.That(Directory.GetFiles(Path.Combine(work, "class-images"), "*.json", SearchOption.AllDirectories), Has.Length.EqualTo(2));
        var info = ConceptFile.Load(concept);
        Assert.That(info.Concept.Depth, Is.EqualTo(2));
        Assert.That(info.Metadata["steps"], Is.EqualTo("6"));

        string images = Path.Combine(work, "images");
        (code, output, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", concept,
            "--prompt", "a photo of [V] dog on the beach", "--size", "64", "--device", "cpu", "--out", images);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        using var sidecar = JsonDocument.Parse(File.ReadAllText(Path.Combine(images, "00000-000.json")));
        Assert.That(sidecar.RootElement.GetProperty("concepts")[0].GetString(), Is.EqualTo(concept));

        (code, _, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", concept,
            "--prompt", "a photo of a dog", "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "bad"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("[V]").And.Contain("does not appear"));
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
                "--prompt", "a photo of [V] dog in [S] style", "--size", "128", "--seed", "4", "--device", "cpu", "--out", Path.Combine(work, dir), .. extra]);
            Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
            return File.ReadAllText(Path.Combine(work, dir, "00000-000.json"));
        }
        string masked = Compose("masked"), unmasked = Compose("unmasked", "--no-identity-mask");
        Assert.That(Tokens(masked), Is.Not.EqualTo(Tokens(unmasked)), "the identity mask changes what the concepts see");

        var (clash, _, error2) = CliHarness.Run("compose", "--model", TinyModels.Default, "--concept", dog, "--concept", dog,
            "--prompt", "[V] and [V]", "--size", "64", "--device", "cpu", "--out", Path.Combine(work, "clash"));
        Assert.That(clash, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error2, Does.Contain("two concepts use the placeholder [V]"));
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
    public void AFolderWithoutImagesIsNamed()
    {
        string empty = TinyModels.NewTempDir("empty");
        var (code, _, error) = CliHarness.Run("train", "--model", TinyModels.Default, "--images", empty, "--class", "dog",
            "--out", Path.Combine(empty, "x.safetensors"), "--device", "cpu");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain(empty).And.Contain("no JPEG, PNG"));
    }
}
