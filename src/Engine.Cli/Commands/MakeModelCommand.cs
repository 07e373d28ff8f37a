using System.CommandLine;
using CoAR.Engine.Tools;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar make-model`: writes a checkpoint in the exact Lumina-mGPT layout, tiny or of the real 7B shape.</summary>
public static class MakeModelCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Directory to write the checkpoint into", Required = true };
        var shape = new Option<string>("--shape") { Description = "tiny (the built-in test model) or 7b (Lumina-mGPT 7B)", DefaultValueFactory = _ => "tiny" };
        shape.AcceptOnlyFromAmong("tiny", "7b");
        var fill = new Option<string>("--fill")
        {
            Description = "random (seeded, deterministic) or zeros (sparse files: a 7B-shape checkpoint in seconds, no disk used)",
            DefaultValueFactory = _ => "random",
        };
        fill.AcceptOnlyFromAmong("random", "zeros");
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights", DefaultValueFactory = _ => BuiltInModel.Seed };
        var shards = new Option<int>("--shards") { Description = "Number of safetensors shards", DefaultValueFactory = _ => 2 };

        var cmd = new Command("make-model", "Write a checkpoint in the Lumina-mGPT layout (config.json, sharded bf16 safetensors, index) for tests and benchmarks.");
        foreach (var o in new Option[] { output, shape, fill, seed, shards }) cmd.Options.Add(o);
        cmd.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            int shardCount = parse.GetValue(shards);
            if (shardCount is <= 0 or > 1000) throw new UsageException($"--shards {shardCount}: expected 1 to 1000");
            string dir = parse.GetValue(output)!;
            var modelShape = ModelShape.Named(parse.GetValue(shape)!);
            var weightFill = parse.GetValue(fill) == "zeros" ? WeightFill.Zeros : WeightFill.Random;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            CheckpointMaker.Write(dir, modelShape, weightFill, parse.GetValue(seed), shardCount);
            AnsiConsole.Console.MarkupLine(
                $"wrote {Markup.Escape(parse.GetValue(shape)!)} checkpoint ({weightFill.ToString().ToLowerInvariant()} weights) to {Markup.Escape(Path.GetFullPath(dir))} in {clock.Elapsed.TotalSeconds:F1} s");
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
