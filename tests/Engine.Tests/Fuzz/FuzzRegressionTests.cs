using CoAR.Engine.Fuzz;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Fuzz;

/// <summary>
/// Every seed input and every input a fuzzer or a hostile-input audit found (tests/Engine.Fuzz/regressions/TARGET/)
/// through its reader: accepted, or refused with the reader's bad-input error, never anything else.
/// </summary>
public class FuzzRegressionTests
{
    private static string FuzzDir => Path.Combine(RepoRoot.Path, "tests", "Engine.Fuzz");

    public static IEnumerable<TestCaseData> Inputs()
    {
        foreach (var kind in new[] { "corpus", "regressions" })
        foreach (var dir in Directory.EnumerateDirectories(Path.Combine(FuzzDir, kind)).Order(StringComparer.Ordinal))
        foreach (var file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
            yield return new TestCaseData(Path.GetFileName(dir), file, kind == "corpus").SetName($"{kind} {Path.GetFileName(dir)}/{Path.GetFileName(file)}");
    }

    [TestCaseSource(nameof(Inputs))]
    public void IsAcceptedOrRefusedClearly(string target, string file, bool seed)
    {
        bool handled = FuzzTargets.Named(target).Accepts(File.ReadAllBytes(file), out var refusal, out var unexpected);
        Assert.That(handled, Is.True, () => $"{file}: {unexpected}");
        if (seed)
            Assert.That(refusal, Is.Null, "a seed is a valid input, so the fuzzer starts from the reader's main paths");
    }

    [Test]
    public void EveryTargetHasSeeds()
    {
        foreach (var target in FuzzTargets.All)
            Assert.That(Directory.EnumerateFiles(Path.Combine(FuzzDir, "corpus", target.Name)), Is.Not.Empty, target.Name);
    }
}
