using System.Text.Json;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.SafeTensors;

namespace CoAR.Engine.Cli;

/// <summary>
/// How `coar` reports a failure: one line "error: ..." on stderr, or with --json one JSON object there
/// (<c>{"exit_code": 3, "error": "bad_input", "message": "..."}</c>); stdout keeps only results.
/// </summary>
public static class CliErrors
{
    private static int _cancelReported;

    // Quotes and backticks as themselves: the message is for people reading the log too.
    private static readonly JsonSerializerOptions JsonErrorOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Whether the running command was asked for --json.</summary>
    public static bool Json { get; set; }

    /// <summary>Whether the running command says itself what Ctrl+C does (a server drains; it is not an error).</summary>
    public static bool ReportsOwnCancellation { get; set; }

    /// <summary>Whether the running command watches a cancellation token (and so stops cleanly on Ctrl+C).</summary>
    public static bool StopsGracefully { get; set; }

    /// <summary>Reports <paramref name="e"/> and returns the exit code it means.</summary>
    public static int Report(Exception e)
    {
        var (code, message) = Classify(e);
        if (code == ExitCodes.Cancelled)
        {
            ReportCancelled();
            return code;
        }
        Write(code, message);
        if (code == ExitCodes.Failure)
        {
            // Not a bad input the engine recognizes: the stack trace is for bug reports.
            if (Environment.GetEnvironmentVariable("COAR_DEBUG") == "1")
                Console.Error.WriteLine(e);
            else if (!Json)
                Console.Error.WriteLine("(set COAR_DEBUG=1 to print the stack trace)");
        }
        return code;
    }

    /// <summary>Says once that the run was cancelled (Ctrl+C): from the signal handler, or when the command unwinds.</summary>
    public static void ReportCancelled()
    {
        if (Interlocked.Exchange(ref _cancelReported, 1) == 0)
            Write(ExitCodes.Cancelled, "cancelled (Ctrl+C): finished outputs are kept, nothing half-written is left");
    }

    public static void Write(int exitCode, string message)
    {
        if (Json)
        {
            Console.Error.WriteLine(JsonSerializer.Serialize(new { exit_code = exitCode, error = Kind(exitCode), message }, JsonErrorOptions));
            return;
        }
        Console.Error.WriteLine($"error: {message}");
    }

    private static (int Code, string Message) Classify(Exception e) => e switch
    {
        OperationCanceledException => (ExitCodes.Cancelled, "cancelled"),
        UsageException => (ExitCodes.Usage, e.Message),
        OutputWriteException => (ExitCodes.OutputFailed, e.Message),
        ModelFormatException or SafeTensorsException or TokenizerFormatException or FileNotFoundException
            or DirectoryNotFoundException or InvalidDataException or UnauthorizedAccessException or NonFiniteLogitsException
            => (ExitCodes.BadInput, e.Message),
        DeviceUnavailableException => (ExitCodes.DeviceUnavailable, e.Message),
        _ => (ExitCodes.Failure, $"internal error: {e.GetType().Name}: {e.Message}"),
    };

    private static string Kind(int exitCode) => exitCode switch
    {
        ExitCodes.Usage => "usage",
        ExitCodes.BadInput => "bad_input",
        ExitCodes.DeviceUnavailable => "device_unavailable",
        ExitCodes.OutputFailed => "output_failed",
        ExitCodes.Cancelled => "cancelled",
        _ => "internal",
    };
}
