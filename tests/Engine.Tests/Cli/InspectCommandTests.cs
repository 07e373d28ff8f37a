using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

public class InspectCommandTests
{
    [Test]
    public void SummarizesTheRealSevenBShapeFromHeadersAlone()
    {
        // Zero-filled sparse shards: 14 GB of apparent size, written and read in well under a second.
        string dir = TinyModels.NewTempDir("seven-b");
        var (code, output, error) = CliHarness.Run("make-model", "--shape", "7b", "--fill", "zeros", "--out", dir);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        (code, output, error) = CliHarness.Run("inspect", "--model", dir, "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        using var json = JsonDocument.Parse(output);
        var model = json.RootElement.GetProperty("model");
        Assert.That(model.GetProperty("parameters").GetInt64(), Is.EqualTo(7_013_158_912L));
        Assert.That(model.GetProperty("tensors").GetInt32(), Is.EqualTo(419));
        Assert.That(model.GetProperty("bytes").GetInt64(), Is.EqualTo(2 * 7_013_158_912L));
        // KV cache of one 768 image with CFG: 2 rows x 2485 positions x 0.5 MiB (+ tags).
        var kv = model.GetProperty("memory").GetProperty("gpu_bf16").GetProperty("kv_cache").GetInt64();
        Assert.That(kv, Is.EqualTo(2L * 2485 * 32 * 2 * 4096 * 2 + 4L * 2 * 2485));
    }

    [Test]
    public void WritesAllLogitsAndPrintsTheTopOnes()
    {
        string file = Path.Combine(TinyModels.NewTempDir("logits"), "logits.npy");
        var (code, output, error) = CliHarness.Run("inspect", "--model", TinyModels.Default, "--logits",
            "--tokens", "0,8197,8806,8806", "--top", "3", "--out", file, "--device", "cpu");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        Assert.That(output, Does.Contain("last-position logits for 4 tokens on cpu"));
        var (data, shape) = NpyFile.ReadFloat32(file);
        Assert.That(shape, Is.EqualTo(new[] { 65536 }));
        int best = Array.IndexOf(data, data.Max());
        Assert.That(output, Does.Contain($"│    1 │ {best,5} │"), "the top entry printed is the file's argmax");
    }

    [Test]
    public void MissingModelDirectoryIsABadInputError()
    {
        var (code, output, error) = CliHarness.Run("inspect", "--model", "/nonexistent/model");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(output, Is.Empty, "errors go to stderr");
        Assert.That(error, Does.Contain("/nonexistent/model").And.Contain("no such directory"));
    }

    [Test]
    public void LogitsWithoutTokensIsAUsageError()
    {
        var (code, _, error) = CliHarness.Run("inspect", "--model", TinyModels.Default, "--logits");
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("--logits needs --tokens"));
    }
}
