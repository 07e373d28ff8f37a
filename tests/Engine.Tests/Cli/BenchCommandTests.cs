using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

public class BenchCommandTests
{
    [Test]
    public void PrintsItsTableOnTheCpu()
    {
        var (code, output, error) = CliHarness.Run("bench", "--model", TinyModels.Default, "--device", "cpu", "--context", "64", "--steps", "3", "--size", "64");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("throughput on cpu").And.Contain("prefill").And.Contain("decode step")
            .And.Contain("image tokens/s").And.Contain("images/s").And.Contain("achieved bandwidth").And.Contain("peak memory"));
    }

    [Test]
    public void SyntheticWeightsOfAShapeNeedNoFile()
    {
        var (code, output, error) = CliHarness.Run("bench", "--shape", "tiny", "--device", "cpu", "--context", "32", "--steps", "2",
            "--batch", "2", "--size", "64", "--full", "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        using var json = JsonDocument.Parse(output);
        Assert.That(json.RootElement.GetProperty("rows").GetInt32(), Is.EqualTo(4));
        Assert.That(json.RootElement.GetProperty("parameters").GetInt64(), Is.EqualTo(8_539_776));
        Assert.That(json.RootElement.GetProperty("decode_step_milliseconds").GetDouble(), Is.GreaterThan(0));
        Assert.That(json.RootElement.GetProperty("full_image_seconds").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void TimesTrainingStepsAndProfilesThem()
    {
        var (code, output, error) = CliHarness.Run("bench", "--model", TinyModels.Default, "--device", "cpu", "--train", "--size", "64",
            "--steps", "2", "--profile", "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        using var json = JsonDocument.Parse(output);
        Assert.That(json.RootElement.GetProperty("step_seconds").GetArrayLength(), Is.EqualTo(2));
        Assert.That(json.RootElement.GetProperty("cpu_seconds").GetArrayLength(), Is.EqualTo(2));
        Assert.That(json.RootElement.GetProperty("layers").GetInt32(), Is.EqualTo(3), "the model's depth when --layers is not given");
        Assert.That(error, Does.Contain("CPU backend time by op").And.Contain("MatMulInputGrad").And.Contain("AttentionBackward"),
            "the profile of the timed steps, on stderr");
        Assert.That(Managed.Backends.Cpu.CpuOpProfile.Enabled, Is.False, "profiling ends with the command");
    }

    [Test]
    public void TimesLoraTrainingSteps()
    {
        var (code, output, error) = CliHarness.Run("bench", "--model", TinyModels.Default, "--device", "cpu", "--train", "--method", "lora",
            "--lora-rank", "2", "--size", "64", "--steps", "1", "--profile", "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        using var json = JsonDocument.Parse(output);
        Assert.That(json.RootElement.GetProperty("method").GetString(), Is.EqualTo("lora"));
        Assert.That(json.RootElement.GetProperty("parameters").GetInt32(), Is.EqualTo(3 * 2 * (2 * 64 + 2 * (64 + 64))), "rank 2 on q, k, v of 3 layers");
        Assert.That(error, Does.Contain("WeightGradient"), "the adapters' gradients run through the weight-gradient op");
    }

    [TestCase("textual-inversion", "full", 64)]
    [TestCase("personalar", "full", 64 + 3 * 64 * (64 + 2 * 64))]
    [TestCase("personalar", "lora", 64 + 3 * 2 * (2 * 64 + 2 * (64 + 64)))]
    public void TimesTextualInversionAndPersonalArSteps(string method, string stage2, int parameters)
    {
        string[] stage = method == "personalar" ? ["--stage2", stage2] : [];
        var (code, output, error) = CliHarness.Run(["bench", "--model", TinyModels.Default, "--device", "cpu", "--train", "--method", method, .. stage,
            "--lora-rank", "2", "--size", "64", "--steps", "1", "--json"]);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        using var json = JsonDocument.Parse(output);
        Assert.That(json.RootElement.GetProperty("method").GetString(), Does.StartWith(method));
        Assert.That(json.RootElement.GetProperty("parameters").GetInt32(), Is.EqualTo(parameters), "the [V] embedding, then q/k/v weights or rank-2 LoRA on 3 layers");
        Assert.That(json.RootElement.GetProperty("dpp").GetBoolean(), Is.False, "no class-image pass in PersonalAR");
        var (bad, _, badError) = CliHarness.Run("bench", "--model", TinyModels.Default, "--device", "cpu", "--train", "--method", "lora", "--stage2", "lora", "--size", "64");
        Assert.That(bad, Is.EqualTo(ExitCodes.Usage));
        Assert.That(badError, Does.Contain("--stage2 belongs to --method personalar"));
    }

    [TestCase("--layers", "4", "--layers 4")]
    [TestCase("--size", "64x32", "not square")]
    [TestCase("--steps", "0", "--steps")]
    public void BadTrainingBenchSettingsAreUsageErrors(string option, string value, string message)
    {
        string[] size = option == "--size" ? [] : ["--size", "64"];
        var (code, output, error) = CliHarness.Run(["bench", "--model", TinyModels.Default, "--device", "cpu", "--train", .. size, option, value]);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), output + error);
        Assert.That(output + error, Does.Contain(message));
    }
}
