using System.Collections.Concurrent;
using System.Diagnostics;
using CoAR.Engine.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>
/// Every command on a directory of hostile inputs (<see cref="HostileInputs"/>), each as its own `coar` process:
/// the only exit codes allowed are 0, 2 and 3 (no internal error, no signal) and none may run past
/// <see cref="TimeLimit"/>. About a minute of CI on 2 cores.
/// </summary>
public class HostileInputTests
{
    /// <summary>The most one command may take on a hostile input before it counts as a hang.</summary>
    private static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(60);

    [Test]
    public void EveryCommandRefusesHostileInputsWithAClearErrorAndNoHang()
    {
        string root = TinyModels.NewTempDir("hostile");
        var inputs = new HostileInputs(root, TinyModels.Default, Path.Combine(RepoRoot.Path, "tests", "Engine.Fuzz", "regressions")).Build();
        var failures = new ConcurrentBag<string>();
        var times = new ConcurrentBag<(double Seconds, string Name, int Code)>();
        var clock = Stopwatch.StartNew();
        Parallel.ForEach(inputs.Cases, new ParallelOptions { MaxDegreeOfParallelism = 2 }, c =>
        {
            var (code, stderr, seconds) = Run(c.Args, root);
            times.Add((seconds, c.Name, code));
            if (code is not (ExitCodes.Ok or ExitCodes.Usage or ExitCodes.BadInput) || stderr.Contains("internal error"))
                failures.Add($"{c.Name}: exit {code} after {seconds:F1} s: {Last(stderr)}");
        });
        TestContext.Out.WriteLine($"{inputs.Cases.Count} hostile cases in {clock.Elapsed.TotalSeconds:F0} s; the slowest:");
        foreach (var (seconds, name, code) in times.OrderByDescending(t => t.Seconds).Take(8))
            TestContext.Out.WriteLine($"  {seconds,5:F1} s  exit {code}  {name}");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Order()));
    }

    /// <summary>Runs `coar ARGS`; a process past the time limit is killed and reported as exit -1.</summary>
    private static (int Code, string Stderr, double Seconds) Run(string[] args, string workDir)
    {
        var psi = new ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = workDir,
        };
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeLimit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (-1, $"hung: killed after {TimeLimit.TotalSeconds:F0} s\n{stderr.Result}", clock.Elapsed.TotalSeconds);
        }
        _ = stdout.Result;
        // A process killed by a signal reports 128 + the signal number.
        return (p.ExitCode, stderr.Result, clock.Elapsed.TotalSeconds);
    }

    private static string Last(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return lines.Length == 0 ? "(no message)" : string.Join(" | ", lines.TakeLast(2));
    }
}
