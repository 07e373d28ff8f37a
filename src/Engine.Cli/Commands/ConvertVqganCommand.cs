using System.CommandLine;
using System.Text.Json;
using CoAR.Engine.Tools.Vqgan;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary><c>coar convert-vqgan CKPT [--yaml PATH] --out DIR</c>: Chameleon's vqgan.ckpt to vqgan.safetensors + vqgan.json.</summary>
public static class ConvertVqganCommand
{
    private const int ListedSkipsMax = 20;

    public static Command Create()
    {
        var checkpoint = new Argument<string>("CKPT")
        {
            Description = "Chameleon's tokenizer/vqgan.ckpt (a torch.save file; read without Python, nothing in it is run)",
        };
        var yaml = new Option<string?>("--yaml")
        {
            Description = "The VQGAN's vqgan.yaml (default: vqgan.yaml beside the checkpoint)",
        };
        var output = new Option<string>("--out")
        {
            Description = "Directory for vqgan.safetensors and vqgan.json",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };

        var command = new Command("convert-vqgan", "Convert the VQGAN image tokenizer checkpoint to safetensors (F32)");
        command.Arguments.Add(checkpoint);
        command.Options.Add(yaml);
        command.Options.Add(output);
        command.Options.Add(json);
        command.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var result = VqganConverter.Convert(parse.GetValue(checkpoint)!, parse.GetValue(yaml), parse.GetValue(output)!);
            if (parse.GetValue(json))
                Console.WriteLine(ToJson(result));
            else
                Print(result);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static void Print(VqganConversion result)
    {
        string from = string.Join(", ", result.SourceDTypes.Select(d => $"{d.Value} {d.Key}"));
        var table = new Table().HideHeaders().AddColumn("").AddColumn("");
        table.AddRow("converted", $"{result.TensorCount} tensors, {result.ParameterCount:N0} parameters ({from} -> F32)");
        table.AddRow("skipped loss keys", $"{result.SkippedLossKeys.Count} (LPIPS / discriminator)");
        table.AddRow("skipped entries", $"{result.SkippedEntries.Count} (not VQGAN weights)");
        table.AddRow("weights", result.WeightsPath);
        table.AddRow("config", result.ConfigPath);
        AnsiConsole.Write(table);
        foreach (var entry in result.SkippedEntries.Take(ListedSkipsMax))
            AnsiConsole.MarkupLineInterpolated($"  [grey]skipped[/] {entry.Name}: {entry.Description}");
        if (result.SkippedEntries.Count > ListedSkipsMax)
            AnsiConsole.MarkupLineInterpolated($"  [grey]... and {result.SkippedEntries.Count - ListedSkipsMax} more[/]");
        AnsiConsole.MarkupLineInterpolated(
            $"[green]done:[/] {result.TensorCount} tensors to {result.WeightsPath}, {result.SkippedLossKeys.Count + result.SkippedEntries.Count} entries skipped");
    }

    private static string ToJson(VqganConversion result) => JsonSerializer.Serialize(new
    {
        weights = result.WeightsPath,
        config = result.ConfigPath,
        tensors = result.TensorCount,
        parameters = result.ParameterCount,
        source_dtypes = result.SourceDTypes.ToDictionary(d => d.Key.ToString(), d => d.Value),
        skipped_loss_keys = result.SkippedLossKeys,
        skipped_entries = result.SkippedEntries.Select(e => new { name = e.Name, description = e.Description }),
    });
}
