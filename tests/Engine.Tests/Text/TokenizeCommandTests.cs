using System.CommandLine;
using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Text;

public class TokenizeCommandTests
{
    private string _directory = "";

    [OneTimeSetUp]
    public void WriteTinyTokenizer()
    {
        _directory = Path.Combine(Path.GetTempPath(), $"coar-tokenize-{Guid.NewGuid():N}");
        TinyTokenizer.Write(Path.Combine(_directory, "tokenizer.json"));
    }

    [OneTimeTearDown]
    public void DeleteTinyTokenizer() => Directory.Delete(_directory, recursive: true);

    private static (int ExitCode, string Output, string Error) Run(params string[] args) => Cli.CliHarness.Run(args);

    [Test]
    public void JsonListsIdsAndTokensOfAModelDirectory()
    {
        var (exitCode, output, _) = Run("tokenize", "A photo of a dog<reserved08706>", "--tokenizer", _directory, "--json");
        Assert.That(exitCode, Is.EqualTo(0));
        using var json = JsonDocument.Parse(output);
        var ids = json.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var tokenizer = BpeTokenizer.Load(Path.Combine(_directory, "tokenizer.json"));
        Assert.That(ids, Is.EqualTo(tokenizer.Encode("A photo of a dog<reserved08706>")));
        Assert.That(ids[^1], Is.EqualTo(8710));
        Assert.That(json.RootElement.GetProperty("tokens")[1].GetString(), Is.EqualTo("Ġphoto"));
        Assert.That(json.RootElement.GetProperty("pieces")[1].GetString(), Is.EqualTo(" photo"));
    }

    [Test]
    public void TableShowsTokenStrings()
    {
        var (exitCode, output, _) = Run("tokenize", "a dog", "--tokenizer", Path.Combine(_directory, "tokenizer.json"));
        Assert.That(exitCode, Is.EqualTo(0));
        Assert.That(output, Does.Contain("Ġdog").And.Contain("2 tokens"));
    }

    [Test]
    public void MissingTokenizerFailsWithItsPath()
    {
        var (exitCode, _, error) = Run("tokenize", "a dog", "--tokenizer", Path.Combine(_directory, "nope.json"));
        Assert.That(exitCode, Is.EqualTo(CoAR.Engine.Cli.ExitCodes.BadInput));
        Assert.That(error, Does.Contain("nope.json"));
    }
}
