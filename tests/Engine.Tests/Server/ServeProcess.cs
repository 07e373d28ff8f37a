using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using CoAR.Engine.Cli;

namespace CoAR.Engine.Tests.Server;

/// <summary>`coar serve ARGS` as a process, its stderr collected, started once it says where it listens; killed on Dispose if still running.</summary>
internal sealed class ServeProcess : IDisposable
{
    private readonly StringBuilder _errors = new();

    private ServeProcess(Process process) => Process = process;

    public Process Process { get; }

    /// <summary>Where the server listens (its "listening on" line); null if it ended without one.</summary>
    public Uri? Address { get; private set; }

    public string Stderr()
    {
        lock (_errors) return _errors.ToString();
    }

    public static async Task<ServeProcess> StartAsync(params string[] arguments)
    {
        var psi = new ProcessStartInfo("dotnet", [typeof(Program).Assembly.Location, "serve", .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        var serve = new ServeProcess(Process.Start(psi)!);
        serve.Process.ErrorDataReceived += (_, e) => { lock (serve._errors) serve._errors.AppendLine(e.Data); };
        serve.Process.BeginErrorReadLine();
        string? line;
        using (var startup = new CancellationTokenSource(TestServer.Limit))
            while (serve.Address is null && (line = await serve.Process.StandardOutput.ReadLineAsync(startup.Token)) is not null)
                if (Regex.Match(line, @"listening on (http://\S+)") is { Success: true } m) serve.Address = new Uri(m.Groups[1].Value);
        _ = serve.Process.StandardOutput.ReadToEndAsync();
        return serve;
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.Dispose();
    }
}
