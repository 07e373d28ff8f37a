using NUnit.Framework;

namespace CoAR.Engine.Tests.Embedding;

/// <summary>
/// The Python binding (bindings/python, ctypes over libcoar.so) with Debian's python3: its own pytest suite, and the
/// README's Python snippet.
/// </summary>
public class PythonBindingTests
{
    // Debian's interpreter, where bootstrap installs python3-pytest, -numpy and -tqdm (a python3 on PATH may be another build).
    private const string Python = "/usr/bin/python3";

    [Test]
    public void ThePytestSuitePasses()
    {
        var run = ExternalProcess.Run(Python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            Path.Combine(RepoRoot.Path, "bindings", "python"), Environment(), TimeSpan.FromMinutes(4));
        Assert.That(run.ExitCode, Is.EqualTo(0), run.Output);
        Assert.That(run.Output, Does.Match(@"\d+ passed").And.Not.Contain("failed").And.Not.Contain("skipped"), run.Output);
    }

    [Test]
    public void TheReadmePythonSnippetRuns()
    {
        _ = EmbeddingArtifacts.NativeLibrary;
        string work = Directory.CreateTempSubdirectory("coar-python-snippet-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(work, "app.py"), EmbeddingArtifacts.ReadmeSnippet("python"));
            var environment = new Dictionary<string, string>
            {
                ["PATH"] = $"/usr/bin:{System.Environment.GetEnvironmentVariable("PATH")}", // Debian's python3, with numpy
                ["PYTHONDONTWRITEBYTECODE"] = "1",
                ["COAR_HOME"] = Path.GetDirectoryName(Tools.BuiltInModel.EnsureCreated())!,
            };
            var run = EmbeddingArtifacts.RunShellSnippet("python-run", EmbeddingArtifacts.PublishCommand, work, environment)
                .Succeeded("the README's Python snippet");
            Assert.That(run.Output, Does.Contain("(256, 256, 3) uint8 [1, 2]"), run.Output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static Dictionary<string, string> Environment() => new()
    {
        ["COAR_LIBRARY"] = EmbeddingArtifacts.NativeLibrary,
        ["PYTHONPATH"] = Path.Combine(RepoRoot.Path, "bindings", "python"),
        ["PYTHONDONTWRITEBYTECODE"] = "1",
        ["COAR_HOME"] = Path.GetDirectoryName(Tools.BuiltInModel.EnsureCreated())!,
    };
}
