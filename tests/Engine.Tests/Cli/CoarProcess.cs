using System.Diagnostics;

namespace CoAR.Engine.Tests.Cli;

/// <summary>
/// Runs `coar` in a process of its own, with variables added to this process's environment: for what one process
/// cannot show twice, such as which CUDA driver loads (the test process keeps the first it loaded).
/// </summary>
internal static class CoarProcess
{
    public static (int ExitCode, string Output) Run(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "coar.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output + error.Result);
    }
}
