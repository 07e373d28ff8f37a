using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Cli.Jobs;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>A job split into shards writes the same files as the whole job; `coar job status` sees every shard's progress.</summary>
public class ShardedJobTests
{
    private static string Jsonl(string dir)
    {
        string path = Path.Combine(dir, "prompts.jsonl");
        File.WriteAllLines(path,
        [
            """{"prompt": "a red apple on a wooden table"}""",
            """{"prompt": "a small house", "seed": 77, "size": "32x64"}""",
            """{"prompt": "a blue bird", "count": 3, "cfg": 1}""",
            """{"prompt": "a tree", "size": "64x32", "count": 2}""",
        ]);
        return path;
    }

    private static (int Code, string Output, string Error) Generate(string outDir, string prompts, params string[] extra) =>
        CliHarness.Run(["generate", "--model", TinyModels.Default, "--prompts", prompts, "--size", "64", "--device", "cpu",
            "--target", "512", "--out", outDir, .. extra]);

    private static Dictionary<string, string> Pngs(string dir) =>
        Directory.GetFiles(dir, "*.png").ToDictionary(f => Path.GetFileName(f), f => Convert.ToBase64String(File.ReadAllBytes(f)));

    private static bool Same(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    [Test]
    public void ThreeShardsWriteTheSameImagesAsTheWholeJob()
    {
        string work = TinyModels.NewTempDir("shards");
        string prompts = Jsonl(work), whole = Path.Combine(work, "whole"), sharded = Path.Combine(work, "sharded");
        var (code, output, error) = Generate(whole, prompts, "--seed", "5");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        for (int i = 0; i < 3; i++)
        {
            (code, output, error) = Generate(sharded, prompts, "--seed", "5", "--shard", $"{i}/3");
            Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
            Assert.That(output, Does.Contain($"(shard {i}/3)"));
        }
        var expected = Pngs(whole);
        Assert.That(expected, Has.Count.EqualTo(7));
        Assert.That(Same(Pngs(sharded), expected), Is.True, "byte-identical PNGs under the same names");
        Assert.That(File.ReadAllText(Path.Combine(sharded, "job.json")), Is.EqualTo(File.ReadAllText(Path.Combine(whole, "job.json"))));

        // Without --seed, every shard derives the same base seed from the job: a 2-way split equals a 1-way one.
        string one = Path.Combine(work, "one"), two = Path.Combine(work, "two");
        Assert.That(Generate(one, prompts, "--shard", "0/1").Code, Is.EqualTo(ExitCodes.Ok));
        Assert.That(Generate(two, prompts, "--shard", "1/2").Code, Is.EqualTo(ExitCodes.Ok));
        Assert.That(Generate(two, prompts, "--shard", "0/2").Code, Is.EqualTo(ExitCodes.Ok));
        Assert.That(Pngs(one), Has.Count.EqualTo(7));
        Assert.That(Same(Pngs(two), Pngs(one)), Is.True, "a 2-way split without --seed writes the images of a 1-way one");
    }

    [Test]
    public void JobStatusFindsMissingAndCorruptImagesAndEveryShardsReport()
    {
        string work = TinyModels.NewTempDir("status");
        string prompts = Jsonl(work), outDir = Path.Combine(work, "out");
        Assert.That(Generate(outDir, prompts, "--seed", "5", "--shard", "1/3").Code, Is.EqualTo(ExitCodes.Ok));
        var status = Status(outDir);
        Assert.That(status.GetProperty("images").GetInt32(), Is.EqualTo(7));
        Assert.That(status.GetProperty("done").GetInt32(), Is.EqualTo(2), "shard 1/3 owns images 1 and 4");
        var job = status.GetProperty("jobs")[0];
        Assert.That(job.GetProperty("missing").EnumerateArray().Select(e => e.GetString()),
            Is.EqualTo(new[] { "00000-000", "00002-000", "00002-001", "00003-000", "00003-001" }));
        var shard = job.GetProperty("shards")[0];
        Assert.That(shard.GetProperty("shard").GetString(), Is.EqualTo("1/3"));
        Assert.That(shard.GetProperty("state").GetString(), Is.EqualTo("finished"));
        Assert.That(shard.GetProperty("written").GetInt32(), Is.EqualTo(2));

        foreach (var i in new[] { 0, 2 })
            Assert.That(Generate(outDir, prompts, "--seed", "5", "--shard", $"{i}/3").Code, Is.EqualTo(ExitCodes.Ok));
        Assert.That(Status(outDir).GetProperty("complete").GetBoolean(), Is.True);

        // Damage two images: one cut short, one with a flipped byte in its pixel data.
        string cut = Path.Combine(outDir, "00002-000.png"), flipped = Path.Combine(outDir, "00003-001.png");
        var bytes = File.ReadAllBytes(cut);
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        bytes = File.ReadAllBytes(flipped);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(flipped, bytes);
        var (code, text, error) = CliHarness.Run("job", "status", outDir);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        Assert.That(text, Does.Contain("5/7 images done, 0 missing, 2 corrupt"));
        Assert.That(text, Does.Contain("00002-000: 00002-000.png: truncated").And.Contain("00003-001: 00003-001.png: chunk").And.Contain("fails its CRC"));

        Assert.That(CliHarness.Run("job", "status", outDir, "--delete-corrupt").ExitCode, Is.EqualTo(ExitCodes.Ok));
        Assert.That(File.Exists(cut), Is.False);
        (code, text, error) = Generate(outDir, prompts, "--seed", "5", "--shard", "2/3");
        Assert.That(text, Does.Contain("wrote 1 image(s)"), "rerunning the shard makes its deleted image again");
        Assert.That(Generate(outDir, prompts, "--seed", "5", "--shard", "0/3").Output, Does.Contain("wrote 1 image(s)"));
        Assert.That(Status(outDir).GetProperty("complete").GetBoolean(), Is.True);
    }

    private static JsonElement Status(string dir)
    {
        var (code, output, error) = CliHarness.Run("job", "status", dir, "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    [Test]
    public void StatusOfADirectoryWithoutAJobIsABadInput()
    {
        var (code, _, error) = CliHarness.Run("job", "status", TinyModels.NewTempDir("empty"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("no job.json"));
    }

    [Test]
    public void ASlurmArrayTaskRunsItsShard()
    {
        string work = TinyModels.NewTempDir("slurm");
        string prompts = Jsonl(work), outDir = Path.Combine(work, "out");
        var names = new[] { "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT" };
        try
        {
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", "3");
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_MIN", "1");
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_COUNT", "3");
            var (code, output, error) = Generate(outDir, prompts, "--seed", "5");
            Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
            Assert.That(error, Does.Contain("note: running shard 2/3").And.Contain("Slurm array task 3"));
        }
        finally
        {
            foreach (var n in names) Environment.SetEnvironmentVariable(n, null);
        }
        Assert.That(Directory.GetFiles(outDir, "*.png").Select(Path.GetFileName), Is.EquivalentTo(new[] { "00002-000.png", "00003-000.png" }), "images 2 and 5 of 7");
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Test]
    public void TheShardComesFromTheOptionOrTheEnvironment()
    {
        Assert.That(Shard.Resolve("2/8", null, Env(("SLURM_ARRAY_TASK_ID", "5")), out var source), Is.EqualTo(new Shard(2, 8)));
        Assert.That(source, Is.Null, "an explicit --shard wins");
        Assert.That(Shard.Resolve(null, null, Env(), out _), Is.Null, "no shard: the whole job");
        Assert.That(Shard.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "7"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4")), out source), Is.EqualTo(new Shard(3, 4)), "--array=1-7:2: tasks 1, 3, 5, 7");
        Assert.That(source, Does.Contain("Slurm"));
        Assert.That(Shard.Resolve(null, null, Env(("JOB_COMPLETION_INDEX", "4"), ("COAR_SHARD_COUNT", "5")), out source), Is.EqualTo(new Shard(4, 5)));
        Assert.That(source, Does.Contain("Kubernetes"));
        Assert.That(Shard.Resolve(null, 6, Env(("JOB_COMPLETION_INDEX", "0")), out _), Is.EqualTo(new Shard(0, 6)));

        foreach (var (option, count, env, message) in new (string?, int?, Func<string, string?>, string)[]
        {
            ("3/3", null, Env(), "index must be 0 to 2"),
            ("1-3", null, Env(), "expected I/N"),
            ("0/0", null, Env(), "number of shards"),
            (null, null, Env(("JOB_COMPLETION_INDEX", "1")), "--shard-count"),
            (null, 4, Env(), "JOB_COMPLETION_INDEX"),
            (null, null, Env(("SLURM_ARRAY_TASK_ID", "x")), "SLURM_ARRAY_TASK_ID='x'"),
            (null, null, Env(("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "4")), "index must be 0 to 3"),
            ("0/2", 2, Env(), "not both"),
        })
        {
            var e = Assert.Throws<UsageException>(() => Shard.Resolve(option, count, env, out _), $"{option} {count}");
            Assert.That(e!.Message, Does.Contain(message));
        }
    }
}
