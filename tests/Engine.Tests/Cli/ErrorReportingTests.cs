using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>Errors go to stderr (stdout keeps results only), as JSON with --json, with exit codes scripts can rely on.</summary>
public class ErrorReportingTests
{
    [Test]
    public void AnErrorGoesToStderrWithItsExitCode()
    {
        var (code, output, error) = CliHarness.Run("inspect", "--model", "/nonexistent/model");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(output, Is.Empty);
        Assert.That(error, Does.StartWith("error: --model '/nonexistent/model': no such directory"));
    }

    [Test]
    public void WithJsonAnErrorIsAJsonObjectOnStderr()
    {
        var (code, output, error) = CliHarness.Run("inspect", "--model", "/nonexistent/model", "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(output, Is.Empty);
        using var json = JsonDocument.Parse(error);
        Assert.That(json.RootElement.GetProperty("exit_code").GetInt32(), Is.EqualTo(ExitCodes.BadInput));
        Assert.That(json.RootElement.GetProperty("error").GetString(), Is.EqualTo("bad_input"));
        Assert.That(json.RootElement.GetProperty("message").GetString(), Does.Contain("/nonexistent/model"));
    }

    [TestCase("generate", "--bogus")]
    [TestCase("generate", "--count", "abc")]
    [TestCase("no-such-command")]
    [TestCase]
    public void AnUnparsableCommandLineIsAUsageErrorOnStderr(params string[] args)
    {
        var (code, output, error) = CliHarness.Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(output, Is.Empty);
        Assert.That(error, Does.StartWith("error: ").And.Contain("--help"));
    }

    [Test]
    public void AnUnparsableCommandLineWithJsonIsAJsonError()
    {
        var (code, _, error) = CliHarness.Run("tokenize", "x", "--json", "--bogus");
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        using var json = JsonDocument.Parse(error);
        Assert.That(json.RootElement.GetProperty("exit_code").GetInt32(), Is.EqualTo(ExitCodes.Usage));
        Assert.That(json.RootElement.GetProperty("message").GetString(), Does.Contain("--bogus"));
    }

    [Test]
    public void ARefusedTokenizerIsABadInputErrorNamingIt()
    {
        string dir = TinyModels.NewTempDir("tok");
        string file = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(file, "[1, 2]");
        var (code, _, error) = CliHarness.Run("tokenize", "x", "--tokenizer", file, "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        using var json = JsonDocument.Parse(error);
        Assert.That(json.RootElement.GetProperty("message").GetString(), Does.Contain(file));
    }
}
