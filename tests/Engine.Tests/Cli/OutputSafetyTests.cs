using System.Diagnostics;
using CoAR.Engine.Cli;
using CoAR.Engine.Cli.Jobs;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Imaging;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>
/// Nothing the user had is lost: one writer per output directory, a full disk fails clearly and keeps the last good
/// files, a refused job leaves nothing in the way of its corrected rerun, a killed run's temp files go on the next.
/// </summary>
public class OutputSafetyTests
{
    private static string[] Generate(string outDir, params string[] extra) =>
        ["generate", "--model", TinyModels.Default, "--size", "64", "--seed", "3", "--batch", "1", "--device", "cpu", "--out", outDir, .. extra];

    [Test]
    public void ASecondGenerateOnALockedOutputIsRefusedNamingTheOwner()
    {
        string dir = TinyModels.NewTempDir("locked");
        using (OutputLock.Acquire(dir, "generate"))
        {
            var (code, _, error) = CliHarness.Run(Generate(dir, "--prompt", "x"));
            Assert.That(code, Is.EqualTo(ExitCodes.Usage));
            Assert.That(error, Does.Contain($"{dir} is in use by another run (pid {Environment.ProcessId}, generate"));
        }
        Assert.That(CliHarness.Run(Generate(dir, "--prompt", "x")).ExitCode, Is.EqualTo(ExitCodes.Ok), "the lock is released");
        Assert.That(File.Exists(Path.Combine(dir, OutputLock.FileName)), Is.False);
    }

    [Test]
    public void AStaleLockOfAKilledRunIsTakenOver()
    {
        string dir = TinyModels.NewTempDir("stale");
        File.WriteAllText(Path.Combine(dir, OutputLock.FileName), "");
        File.WriteAllText(Path.Combine(dir, OutputLock.OwnerFileName), "pid 999999, generate, started 2020-01-01 00:00:00\n");
        var (code, output, error) = CliHarness.Run(Generate(dir, "--prompt", "x"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(Directory.GetFiles(dir, ".coar.lock*"), Is.Empty);
    }

    [Test]
    public void TwoDifferentJobsRacingOnOneOutputNeverBothSucceed()
    {
        string dir = TinyModels.NewTempDir("race");
        Process Start(string prompt) => Process.Start(new ProcessStartInfo("dotnet",
            [typeof(Program).Assembly.Location, .. Generate(dir, "--prompt", prompt, "--count", "2")])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        using var first = Start("a red apple");
        using var second = Start("a blue bird");
        string firstError = first.StandardError.ReadToEnd(), secondError = second.StandardError.ReadToEnd();
        first.WaitForExit();
        second.WaitForExit();
        var codes = new[] { first.ExitCode, second.ExitCode };
        Assert.That(codes.Order(), Is.EqualTo(new[] { ExitCodes.Ok, ExitCodes.Usage }), firstError + secondError);
        string winner = first.ExitCode == 0 ? "a red apple" : "a blue bird";
        string loserError = first.ExitCode == 0 ? secondError : firstError;
        Assert.That(loserError, Does.Contain("is in use by another run").Or.Contain("holds a different job"));
        var sidecars = Directory.GetFiles(dir, "*-*.json");
        Assert.That(sidecars, Has.Length.EqualTo(2));
        foreach (var sidecar in sidecars)
        {
            Assert.That(File.ReadAllText(sidecar), Does.Contain(winner), "the winner's images are intact");
            Assert.That(ImageFile.Load(Path.ChangeExtension(sidecar, ".png")).Width, Is.EqualTo(64));
        }
    }

    [Test]
    public void AJobRefusedForABadPromptDoesNotBlockItsCorrectedRerun()
    {
        string work = TinyModels.NewTempDir("rerun"), dir = Path.Combine(work, "out"), prompts = Path.Combine(work, "p.jsonl");
        File.WriteAllLines(prompts, ["""{"prompt": "fine"}""", $$"""{"prompt": "{{new string('a', 9000)}}"}"""]);
        var (code, _, error) = CliHarness.Run(Generate(dir, "--prompts", prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("p.jsonl, prompt 2").And.Contain("9000 characters"));
        Assert.That(File.Exists(Path.Combine(dir, GenerationJob.ManifestName)), Is.False, "no job.json from a refused job");

        File.WriteAllLines(prompts, ["""{"prompt": "fine"}""", """{"prompt": "shorter"}"""]);
        (code, var output, error) = CliHarness.Run(Generate(dir, "--prompts", prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(Directory.GetFiles(dir, "*.png"), Has.Length.EqualTo(2));
    }

    [Test]
    public void TempFilesOfAKilledRunAreRemovedByTheNextRun()
    {
        string dir = TinyModels.NewTempDir("temps");
        string stale = Path.Combine(dir, ".00000-000.png.999999.0123456789abcdef.tmp");
        File.WriteAllText(stale, "half an image");
        Assert.That(CliHarness.Run(Generate(dir, "--prompt", "x")).ExitCode, Is.EqualTo(ExitCodes.Ok));
        Assert.That(File.Exists(stale), Is.False);

        string concept = Path.Combine(dir, "dog.safetensors");
        string staleCheckpoint = Path.Combine(dir, ".dog.checkpoint.safetensors.999999.0123456789abcdef.tmp");
        File.WriteAllText(staleCheckpoint, "half a checkpoint");
        var (code, output, error) = CliHarness.Run(Train(concept, steps: 1));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(File.Exists(staleCheckpoint), Is.False);
    }

    [Test]
    public void GenerationOnAFullDiskFailsClearlyKeepsFinishedImagesAndResumes()
    {
        using var disk = SmallFileSystem.Mount("4");
        string dir = Path.Combine(disk.Path, "out");
        Assert.That(CliHarness.Run(Generate(dir, "--prompt", "x", "--count", "1")).ExitCode, Is.EqualTo(ExitCodes.Ok));
        long png = new FileInfo(Path.Combine(dir, "00000-000.png")).Length;
        Directory.Delete(dir, recursive: true);

        disk.FillLeaving(3 * (png + 8192));
        var (code, _, error) = CliHarness.Run(Generate(dir, "--prompt", "x", "--count", "8"));
        Assert.That(code, Is.EqualTo(ExitCodes.OutputFailed), error);
        Assert.That(error, Does.Contain("could not write").And.Contain("No space left on device"));
        var pngs = Directory.GetFiles(dir, "*.png");
        Assert.That(pngs.Length, Is.InRange(1, 7));
        foreach (var file in pngs)
        {
            Assert.That(ImageFile.Load(file).Width, Is.EqualTo(64), "every finished image is whole");
            Assert.That(File.Exists(Path.ChangeExtension(file, ".json")), Is.True);
        }
        Assert.That(Directory.GetFiles(dir, ".*.tmp"), Is.Empty, "no temp file left behind");

        disk.Free();
        var (again, output, error2) = CliHarness.Run(Generate(dir, "--prompt", "x", "--count", "8"));
        Assert.That(again, Is.EqualTo(ExitCodes.Ok), output + error2);
        Assert.That(output, Does.Contain($"{pngs.Length} already there"));
        Assert.That(Directory.GetFiles(dir, "*.png"), Has.Length.EqualTo(8));
    }

    [Test]
    public void TrainingOnAFullDiskFailsClearlyAndKeepsTheLastGoodCheckpoint()
    {
        using var disk = SmallFileSystem.Mount("4");
        string concept = Path.Combine(disk.Path, "dog.safetensors"), checkpoint = Path.ChangeExtension(concept, ".checkpoint.safetensors");
        // Room for one checkpoint but not for the next beside it (an atomic write needs both at once): the tiny model's
        // run here has 2 layers x 2 slots x 64 wide, so a checkpoint is about 5 KiB, two 4 KiB pages of tmpfs.
        var like = new CoAR.Engine.Graph.Concepts.Concept(CoAR.Engine.Graph.Concepts.ConceptKind.Subject, "[V]", "dog", 2, 1, 1, 64, new float[128], new float[128]);
        string probe = Path.Combine(TinyModels.NewTempDir("probe"), "c.safetensors");
        CoAR.Engine.Graph.Training.TrainingCheckpoint.Write(probe, like, new string('0', 16), 1, new string('x', 600), new float[256], new float[256], new float[128]);
        long pages = (new FileInfo(probe).Length + 4095) / 4096 * 4096;
        disk.FillLeaving(pages + pages / 2);
        var (code, output, error) = CliHarness.Run(Train(concept, steps: 4, checkpointEvery: 1));
        Assert.That(code, Is.EqualTo(ExitCodes.OutputFailed), output + error);
        Assert.That(error, Does.Contain("could not write").And.Contain("No space left on device").And.Contain("untouched"));
        Assert.That(File.Exists(checkpoint), Is.True, "the last good checkpoint is kept");
        Assert.That(File.Exists(concept), Is.False);
        Assert.That(Directory.GetFiles(disk.Path, ".*.tmp"), Is.Empty);

        disk.Free();
        (code, output, error) = CliHarness.Run(Train(concept, steps: 4, checkpointEvery: 1));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("resuming from step 1"));
        Assert.That(File.Exists(concept), Is.True);
    }

    [Test]
    public void AConceptFileOnAFullDiskFailsClearlyAndLeavesNoPartFile()
    {
        using var disk = SmallFileSystem.Mount("4");
        string concept = Path.Combine(disk.Path, "dog.safetensors");
        disk.FillLeaving(0);
        var (code, output, error) = CliHarness.Run(Train(concept, steps: 1));
        Assert.That(code, Is.EqualTo(ExitCodes.OutputFailed), output + error);
        Assert.That(error, Does.Contain("dog.safetensors").And.Contain("No space left on device"));
        Assert.That(Directory.GetFiles(disk.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "filler" }));
    }

    private static string[] Train(string concept, int steps, int checkpointEvery = 0)
    {
        string photos = TinyModels.NewTempDir("photos");
        File.WriteAllBytes(Path.Combine(photos, "p.png"), ImageFile.EncodePng(TestImages.Gradient(80, 64)));
        return ["train", "--model", TinyModels.Default, "--images", photos, "--class", "dog", "--steps", steps.ToString(), "--layers", "2",
            "--resolution", "64", "--no-dpp", "--checkpoint-every", checkpointEvery.ToString(), "--device", "cpu", "--out", concept];
    }
}
