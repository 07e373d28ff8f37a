using System.Text.RegularExpressions;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Embedding;

/// <summary>
/// libcoar.so (NativeAOT) through its C header from C programs built by the system compiler: tests/Embedding/c/
/// coar_test.c, one scenario per test, compiled with AddressSanitizer so each run ends with LeakSanitizer's check
/// (the NativeAOT runtime's own process-lifetime allocations are suppressed by name in lsan.supp, nothing of the
/// engine's); and the README's C snippet.
/// </summary>
public class NativeLibraryTests
{
    private static readonly Lazy<string> TestProgram = new(() =>
    {
        string output = Path.Combine(Directory.CreateTempSubdirectory("coar-c-test-").FullName, "coar_test");
        Compile(Path.Combine(RepoRoot.Path, "tests", "Embedding", "c", "coar_test.c"), output, "-fsanitize=address", "-fno-omit-frame-pointer");
        return output;
    });

    [TestCase("library")]
    [TestCase("errors")]
    [TestCase("generate")]
    [TestCase("cancel")]
    [TestCase("threads")]
    [TestCase("concepts")]
    [TestCase("references")]
    [TestCase("methods")]
    public void TheCApiScenarioPassesWithoutLeaks(string scenario)
    {
        string work = Directory.CreateTempSubdirectory($"coar-c-{scenario}-").FullName;
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["LSAN_OPTIONS"] = $"suppressions={Path.Combine(RepoRoot.Path, "tests", "Embedding", "c", "lsan.supp")}:print_suppressions=0",
                ["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0",
            };
            var run = ExternalProcess.Run(TestProgram.Value, [scenario, work], work, environment, TimeSpan.FromMinutes(3));
            Assert.That(run.ExitCode, Is.EqualTo(0), run.Output);
            Assert.That(run.Output, Does.Contain($"{scenario}: ok").And.Not.Contain("LeakSanitizer"), run.Output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Test]
    public void TheHeaderDeclaresExactlyWhatTheLibraryExports()
    {
        string header = File.ReadAllText(Path.Combine(EmbeddingArtifacts.NativeHeaderDirectory, "coar.h"));
        var declared = Regex.Matches(header, @"^[a-z_ *0-9]*?\b(coar_[a-z_]+)\(", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
        var symbols = ExternalProcess.Run("nm", ["-D", "--defined-only", EmbeddingArtifacts.NativeLibrary], RepoRoot.Path).Succeeded("nm").Output;
        var exported = Regex.Matches(symbols, @" T (coar_[a-z_]+)").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.That(exported, Is.EquivalentTo(declared));
    }

    [Test]
    public void TheReadmeCSnippetBuildsAndRuns()
    {
        _ = EmbeddingArtifacts.NativeLibrary;
        string work = Directory.CreateTempSubdirectory("coar-c-snippet-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(work, "app.c"), EmbeddingArtifacts.ReadmeSnippet("c"));
            var run = EmbeddingArtifacts.RunShellSnippet("c-build", EmbeddingArtifacts.PublishCommand, work,
                new Dictionary<string, string> { ["COAR_HOME"] = CoarHome }).Succeeded("the README's C snippet");
            Assert.That(run.Output, Does.Contain("256x256 RGB"), run.Output);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string CoarHome => Path.GetDirectoryName(Tools.BuiltInModel.EnsureCreated())!;

    private static void Compile(string source, string output, params string[] flags)
    {
        string library = EmbeddingArtifacts.NativeLibrary;
        string libraryDir = Path.GetDirectoryName(library)!;
        ExternalProcess.Run("gcc", [
            "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-g", .. flags,
            "-I", EmbeddingArtifacts.NativeHeaderDirectory, source, "-o", output,
            "-L", libraryDir, "-l:libcoar.so", $"-Wl,-rpath,{libraryDir}", "-lpthread",
        ], RepoRoot.Path).Succeeded($"gcc {Path.GetFileName(source)}");
    }
}
