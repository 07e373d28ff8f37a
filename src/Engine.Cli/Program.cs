using System.CommandLine;
using CoAR.Engine.Cli.Commands;

namespace CoAR.Engine.Cli;

public static class Program
{
    /// <summary>The line width of redirected output: wider than any line the commands print.</summary>
    private const int LogWidth = 4096;

    public static int Main(string[] args)
    {
        // Into a file or a pipe, Spectre.Console would wrap every line at 80 columns and break one progress line in two
        // mid-field; a log reader wants one line per event. A terminal keeps its own width.
        if (Console.IsOutputRedirected)
            Spectre.Console.AnsiConsole.Console.Profile.Width = LogWidth;
        // Every command says that Ctrl+C stopped it. Those that watch a cancellation token stop at their next check and
        // clean up; the others end here, with the same exit code (a killed write leaves only a temp file, removed next run).
        Console.CancelKeyPress += (_, e) =>
        {
            if (!CliErrors.ReportsOwnCancellation)
                CliErrors.ReportCancelled();
            if (CliErrors.StopsGracefully)
                return;
            e.Cancel = true;
            Environment.Exit(ExitCodes.Cancelled);
        };
        return Run(args, new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
    }

    /// <summary>
    /// Parses and runs one command line. A command line that does not parse is a usage error (exit 2) reported on
    /// stderr like every other error, not System.CommandLine's exit 1 with suggestions on stdout.
    /// </summary>
    public static int Run(string[] args, InvocationConfiguration configuration)
    {
        var parse = BuildRoot().Parse(args);
        if (parse.Errors.Count == 0)
            return parse.Invoke(configuration);
        CliErrors.Json = args.Contains("--json");
        string command = parse.CommandResult.Command is RootCommand ? "coar" : $"coar {parse.CommandResult.Command.Name}";
        CliErrors.Write(ExitCodes.Usage, string.Join("; ", parse.Errors.Select(e => e.Message)) + $" (see `{command} --help`)");
        return ExitCodes.Usage;
    }

    /// <summary>The `coar` command tree; each subcommand lives in its own file.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("CoAR.Engine: Lumina-mGPT image generation and CoAR concept training.");
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(MakeModelCommand.Create());
        root.Subcommands.Add(ConvertVqganCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(GenerateCommand.CreateCompose());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(BenchConceptCommand.Create());
        root.Subcommands.Add(EncodeCommand.CreateEncode());
        root.Subcommands.Add(EncodeCommand.CreateDecode());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(JobCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(BenchServeCommand.Create());
        return root;
    }
}
