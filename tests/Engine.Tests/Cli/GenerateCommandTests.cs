using System.Diagnostics;
using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

public class GenerateCommandTests
{
    private static string Jsonl(string dir)
    {
        string path = Path.Combine(dir, "prompts.jsonl");
        File.WriteAllLines(path,
        [
            """{"prompt": "a red apple on a wooden table"}""",
            "",
            """{"prompt": "a small house", "seed": 77}""",
            """{"prompt": "a blue bird", "count": 2, "size": "64x128", "cfg": 1}""",
        ]);
        return path;
    }

    private static string[] Run(string outDir, string prompts, params string[] extra) =>
        ["generate", "--model", TinyModels.Default, "--prompts", prompts, "--size", "128", "--seed", "100", "--batch", "1",
         "--device", "cpu", "--out", outDir, .. extra];

    /// <summary>Outputs that must match between two runs: PNG bytes, and sidecars without their timings.</summary>
    private static Dictionary<string, string> Outputs(string dir) =>
        Directory.GetFiles(dir).Where(f => f.EndsWith(".png") || (f.EndsWith(".json") && !f.EndsWith("job.json")))
            .ToDictionary(f => Path.GetFileName(f), f => f.EndsWith(".png") ? Convert.ToBase64String(File.ReadAllBytes(f)) : WithoutTimings(f));

    private static string WithoutTimings(string sidecar)
    {
        var o = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(sidecar))!.AsObject();
        foreach (var k in new[] { "prefill_seconds", "decode_seconds", "tokens_per_second", "vqgan_seconds" }) o.Remove(k);
        return o.ToJsonString();
    }

    [Test]
    public void APromptAloneWritesAPngAndItsSidecar()
    {
        string cwd = TinyModels.NewTempDir("user");
        string home = TinyModels.NewTempDir("home");
        // As a new user would run it: the built-in model (made on first use), default size, output under ./out.
        var psi = new ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, "generate", "--prompt", "a red apple", "--device", "cpu"])
        {
            WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        psi.Environment["COAR_HOME"] = home;
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.EqualTo(0), stdout + stderr);
        Assert.That(stdout, Does.Contain("wrote 1 image(s)"));
        string outDir = Path.Combine(cwd, "out");
        Assert.That(File.Exists(Path.Combine(outDir, "00000-000.png")), Is.True);
        using var sidecar = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "00000-000.json")));
        Assert.That(sidecar.RootElement.GetProperty("prompt").GetString(), Is.EqualTo("a red apple"));
        Assert.That(sidecar.RootElement.GetProperty("width").GetInt32(), Is.EqualTo(768));
        Assert.That(sidecar.RootElement.GetProperty("image_tokens").GetArrayLength(), Is.EqualTo(2357));
        var png = File.ReadAllBytes(Path.Combine(outDir, "00000-000.png"));
        Assert.That(png[1..4], Is.EqualTo("PNG"u8.ToArray()));
    }

    [Test]
    public void AnInterruptedJobResumesToTheSameFiles()
    {
        string work = TinyModels.NewTempDir("job");
        string prompts = Jsonl(work);
        string whole = Path.Combine(work, "whole"), resumed = Path.Combine(work, "resumed");
        var (code, output, error) = CliHarness.Run(Run(whole, prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(Outputs(whole).Keys.Count(k => k.EndsWith(".png")), Is.EqualTo(4));

        // Interrupt a second run (Ctrl+C) once its first image is written.
        var psi = new ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, .. Run(resumed, prompts)])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using (var p = Process.Start(psi)!)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(Path.Combine(resumed, "00000-000.png")) && DateTime.UtcNow < deadline && !p.HasExited)
                Thread.Sleep(20);
            Process.Start("kill", ["-INT", p.Id.ToString()])!.WaitForExit();
            p.WaitForExit();
            if (p.ExitCode == 0) Assert.Inconclusive("the job finished before it could be interrupted");
            string stderr = p.StandardError.ReadToEnd();
            Assert.That(p.ExitCode, Is.EqualTo(ExitCodes.Cancelled), stderr);
            Assert.That(stderr, Does.Contain("error: cancelled (Ctrl+C)"), "the user is told the run was cancelled");
        }
        var partial = Directory.GetFiles(resumed);
        Assert.That(partial.Where(f => Path.GetFileName(f).StartsWith('.')), Is.Empty, "no temp files left by a clean stop");
        Assert.That(partial.Count(f => f.EndsWith(".png")), Is.InRange(1, 3));
        foreach (var png in partial.Where(f => f.EndsWith(".png")))
            Assert.That(File.Exists(Path.ChangeExtension(png, ".json")), Is.True, "every PNG has its sidecar");

        (code, output, error) = CliHarness.Run(Run(resumed, prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("already there"));
        Assert.That(Outputs(resumed), Is.EquivalentTo(Outputs(whole)));
    }

    [Test]
    public void ADifferentJobInTheSameDirectoryIsRefused()
    {
        string work = TinyModels.NewTempDir("job2");
        string prompts = Jsonl(work), outDir = Path.Combine(work, "out");
        Assert.That(CliHarness.Run(Run(outDir, prompts, "--count", "1")).ExitCode, Is.EqualTo(ExitCodes.Ok));
        var (code, _, error) = CliHarness.Run(Run(outDir, prompts, "--cfg", "2"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("holds a different job").And.Contain("cfg"));
    }

    [Test]
    public void AnUnreadableJobManifestIsNamed()
    {
        string outDir = TinyModels.NewTempDir("manifest");
        File.WriteAllText(Path.Combine(outDir, "job.json"), "{ not json");
        var (code, _, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--prompt", "x", "--size", "64",
            "--device", "cpu", "--out", outDir);
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("job.json").And.Contain("not a job manifest"));
    }

    [Test]
    public void ASizeBeyondTheCheckpointsAreaNamesTheTarget()
    {
        var (code, _, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--prompt", "x", "--size", "1024",
            "--device", "cpu", "--out", TinyModels.NewTempDir("big"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("1024x1024").And.Contain("768 target"));
    }

    [TestCase("""{"promt": "typo"}""", "unknown field 'promt'")]
    [TestCase("""{"prompt": ""}""", "'prompt' must be a non-empty string")]
    [TestCase("""not json""", "not a JSON object")]
    [TestCase("""{"prompt": "x", "count": -1}""", "'count' has an invalid value -1")]
    public void BadJsonlLinesAreNamed(string line, string message)
    {
        string work = TinyModels.NewTempDir("bad");
        string prompts = Path.Combine(work, "p.jsonl");
        File.WriteAllLines(prompts, ["""{"prompt": "fine"}""", line]);
        var (code, _, error) = CliHarness.Run(Run(Path.Combine(work, "out"), prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("p.jsonl:2").And.Contain(message));
    }
}
