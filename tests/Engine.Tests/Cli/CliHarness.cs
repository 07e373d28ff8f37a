using CoAR.Engine.Cli;
using Spectre.Console;

namespace CoAR.Engine.Tests.Cli;

/// <summary>Runs `coar` in-process with its console output captured, as a user at a terminal would see it.</summary>
internal static class CliHarness
{
    private static readonly object Gate = new();

    public static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        lock (Gate)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var oldOut = Console.Out;
            var oldErr = Console.Error;
            var oldAnsi = AnsiConsole.Console;
            try
            {
                Console.SetOut(stdout);
                Console.SetError(stderr);
                AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
                {
                    Out = new AnsiConsoleOutput(stdout),
                    Ansi = AnsiSupport.No,
                    ColorSystem = ColorSystemSupport.NoColors,
                    Interactive = InteractionSupport.No,
                });
                AnsiConsole.Console.Profile.Width = 160;
                CliErrors.Json = false;
                int code = Program.Run(args, new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr });
                return (code, stdout.ToString(), stderr.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldErr);
                AnsiConsole.Console = oldAnsi;
            }
        }
    }
}
