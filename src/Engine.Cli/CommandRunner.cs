using System.CommandLine;
using CoAR.Engine.Managed.Backends.Cpu;

namespace CoAR.Engine.Cli;

/// <summary>Runs a command body and turns the engine's exceptions into one clear error on stderr and a meaningful exit code.</summary>
public static class CommandRunner
{
    public static int Run(ParseResult parse, Func<int> body) =>
        RunAsync(parse, _ => Task.FromResult(body()), CancellationToken.None).GetAwaiter().GetResult();

    public static async Task<int> RunAsync(ParseResult parse, Func<CancellationToken, Task<int>> body, CancellationToken cancellation)
    {
        CliErrors.Json = WantsJson(parse);
        CliErrors.StopsGracefully = cancellation.CanBeCanceled;
        CliErrors.ReportsOwnCancellation = false;
        try
        {
            int code = await body(cancellation);
            if (CpuOpProfile.Enabled) OpProfileReport.Print();
            return code;
        }
        catch (Exception e)
        {
            return CliErrors.Report(e);
        }
    }

    /// <summary>True when the command has a --json option and it is set: errors then go out as JSON too.</summary>
    private static bool WantsJson(ParseResult parse) =>
        parse.CommandResult.Command.Options.OfType<Option<bool>>().FirstOrDefault(o => o.Name == "--json") is { } json
        && parse.GetValue(json);
}

/// <summary>Options that parse but do not make sense together or with the inputs given.</summary>
public sealed class UsageException(string message) : Exception(message);
