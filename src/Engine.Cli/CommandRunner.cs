using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.SafeTensors;
using Spectre.Console;

namespace CoAR.Engine.Cli;

/// <summary>Runs a command body and turns the engine's exceptions into one clear line and a meaningful exit code.</summary>
public static class CommandRunner
{
    public static int Run(Func<int> body) => RunAsync(_ => Task.FromResult(body()), CancellationToken.None).GetAwaiter().GetResult();

    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> body, CancellationToken cancellation)
    {
        try
        {
            int code = await body(cancellation);
            OpProfileReport.PrintIfCollected();
            return code;
        }
        catch (OperationCanceledException)
        {
            Error("cancelled");
            return ExitCodes.Cancelled;
        }
        catch (Exception e) when (e is ModelFormatException or SafeTensorsException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException)
        {
            Error(e.Message);
            return ExitCodes.BadInput;
        }
        catch (UsageException e)
        {
            Error(e.Message);
            return ExitCodes.Usage;
        }
        catch (DeviceUnavailableException e)
        {
            Error(e.Message);
            return ExitCodes.DeviceUnavailable;
        }
        catch (Exception e)
        {
            // Not a bad input the engine recognizes: say what happened; the stack trace is for bug reports.
            Error($"internal error: {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("COAR_DEBUG") == "1")
                Console.Error.WriteLine(e);
            else
                Console.Error.WriteLine("(set COAR_DEBUG=1 to print the stack trace)");
            return ExitCodes.Failure;
        }
    }

    public static void Error(string message) =>
        AnsiConsole.Console.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
}

/// <summary>Options that parse but do not make sense together or with the inputs given.</summary>
public sealed class UsageException(string message) : Exception(message);
