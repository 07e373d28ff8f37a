using System.Diagnostics;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Fuzz;

/// <summary>
/// A short AFL++ run of every fuzz target (tools/fuzz): CI's budget is <see cref="SecondsPerTarget"/> seconds per
/// target, about 100 s for all 13 with AFL's start-up and calibration. `tools/fuzz` without --seconds runs 10 minutes
/// per target. A crash or a hang fails the test and names the target; its input is in the AFL output shown.
/// </summary>
public class FuzzCampaignTests
{
    private const int SecondsPerTarget = 6;

    [Test]
    public void EveryTargetFuzzesBrieflyWithoutACrashOrAHang()
    {
        if (!File.Exists("/usr/bin/afl-fuzz"))
            Assert.Ignore("afl-fuzz is not installed (tools/bootstrap.sh installs Debian's afl++ as root)");
        string out_ = Directory.CreateTempSubdirectory("coar-fuzz-").FullName;
        var psi = new ProcessStartInfo(Path.Combine(RepoRoot.Path, "tools", "fuzz"), ["--no-build", "--seconds", SecondsPerTarget.ToString(), "--out", out_])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var fuzz = Process.Start(psi)!;
        var stderr = fuzz.StandardError.ReadToEndAsync();
        string table = fuzz.StandardOutput.ReadToEnd();
        fuzz.WaitForExit();
        TestContext.Out.WriteLine(table);
        Assert.That(fuzz.ExitCode, Is.Zero, $"{table}\n{stderr.Result}\n(AFL output kept in {out_})");
        var rows = File.ReadAllLines(Path.Combine(out_, "results.tsv")).Skip(1).Select(l => l.Split('\t')).ToList();
        Assert.That(rows.Select(r => r[0]), Is.EquivalentTo(CoAR.Engine.Fuzz.FuzzTargets.All.Select(t => t.Name)));
        foreach (var row in rows)
            Assert.That(long.Parse(row[2]), Is.GreaterThan(0), $"{row[0]} ran no input");
        Directory.Delete(out_, recursive: true);
    }
}
