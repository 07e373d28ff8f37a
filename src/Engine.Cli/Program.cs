using System.CommandLine;
using CoAR.Engine.Cli.Commands;

namespace CoAR.Engine.Cli;

public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

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
        return root;
    }
}
