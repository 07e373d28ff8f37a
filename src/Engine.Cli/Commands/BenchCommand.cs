using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph.Benchmarks;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Tools;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar bench`: end-to-end throughput (prefill, decode step, image tokens/s, images/s, GB/s, memory).</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var shape = new Option<string?>("--shape") { Description = "Synthetic random weights of a shape instead of a checkpoint: tiny or 7b (no file needed)" };
        shape.AcceptOnlyFromAmong("tiny", "7b");
        var device = DeviceOption.Create();
        var images = new Option<int>("--batch") { Description = "Images generated together (rows: twice that with CFG)", DefaultValueFactory = _ => 1 };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prompt tokens per image in the prefill", DefaultValueFactory = _ => 64 };
        var context = new Option<int>("--context") { Description = "Tokens already in each row's KV cache during the decode steps (about mid-image at 768)", DefaultValueFactory = _ => 1200 };
        var steps = new Option<int>("--steps") { Description = "Timed decode steps", DefaultValueFactory = _ => 32 };
        var noCfg = new Option<bool>("--no-cfg") { Description = "No unconditional rows" };
        var size = new Option<string>("--size") { Description = "Image size the images/s figure is extrapolated to (and --full generates)", DefaultValueFactory = _ => "768" };
        var full = new Option<bool>("--full") { Description = "Also time the generation of whole images" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var cmd = new Command("bench", "Measure generation throughput on a device: prefill tokens/s, decode step ms, image tokens/s, images/s, achieved GB/s, peak memory.");
        foreach (var o in new Option[] { model, shape, device, images, prompt, context, steps, noCfg, size, full, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var (w, h) = CliParsing.ImageSize(parse.GetValue(size)!);
            var settings = new ThroughputSettings(parse.GetValue(images), parse.GetValue(prompt), parse.GetValue(context), parse.GetValue(steps),
                !parse.GetValue(noCfg), Width: w, Height: h, FullImage: parse.GetValue(full));
            if (settings.Images <= 0 || settings.PromptTokens <= 0 || settings.Context <= 0 || settings.DecodeSteps <= 0)
                throw new UsageException("--batch, --prompt-tokens, --context and --steps must be positive");
            using var backend = DeviceOption.Open(parse.GetValue(device)!);
            using var m = LoadModel(parse.GetValue(model), parse.GetValue(shape), backend);
            var log = parse.GetValue(json) ? null : new ConsoleProgress<string>(s => AnsiConsole.Console.MarkupLine(Markup.Escape(s)));
            try
            {
                ThroughputBenchmark.Check(m, settings);
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new UsageException(e.Message.Split(" (Parameter")[0]);
            }
            var result = ThroughputBenchmark.Run(m, settings, log);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(result, CliJson.Options));
            else
                Print(result, settings);
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static ChameleonModel LoadModel(string? modelDir, string? shape, Managed.Backends.IBackend backend)
    {
        if (shape is null) return ChameleonModel.Load(ModelOption.Resolve(modelDir), backend);
        if (modelDir is not null) throw new UsageException("give --model or --shape, not both");
        var s = ModelShape.Named(shape);
        var config = new ChameleonConfig
        {
            HiddenSize = s.Hidden, NumLayers = s.Layers, NumHeads = s.Heads, NumKvHeads = s.KvHeads, IntermediateSize = s.Intermediate,
            VocabSize = s.Vocab, SwinNorm = s.SwinNorm, MaxPositionEmbeddings = s.MaxPositions,
        };
        return new ChameleonModel(config, ChameleonWeights.Synthetic(config, backend, seed: 1), backend);
    }

    private static void Print(ThroughputResult r, ThroughputSettings s)
    {
        string F(double v, string f) => v.ToString(f, CultureInfo.InvariantCulture);
        var t = new Table().Title($"throughput on {r.Device}: {r.Parameters:N0} parameters, {r.Images} image(s) = {r.Rows} rows")
            .AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        t.AddRow("prefill", $"{F(r.PrefillTokensPerSecond, "N0")} tokens/s ({F(r.PrefillSeconds * 1000, "F1")} ms for {r.Images} x {r.PromptTokens})");
        t.AddRow("decode step", $"{F(r.DecodeStepMilliseconds, "F2")} ms at context {r.Context}");
        t.AddRow("image tokens/s", F(r.ImageTokensPerSecond, "F1"));
        t.AddRow($"images/s ({s.Width}x{s.Height}, extrapolated)", F(r.ImagesPerSecond, "F4"));
        t.AddRow("bytes read per step", $"{F(r.StepReadGigabytes, "F3")} GB (weights + KV)");
        t.AddRow("achieved bandwidth", $"{F(r.AchievedGigabytesPerSecond, "F1")} GB/s" +
            (r.DeviceGigabytesPerSecond is { } d ? $" of {F(d, "F0")} GB/s peak ({F(100 * r.BandwidthFraction!.Value, "F1")}%)" : ""));
        t.AddRow("peak memory", Format.Bytes(r.PeakMemoryBytes));
        if (r.FullImageSeconds is { } full) t.AddRow("whole image(s)", $"{F(full, "F2")} s");
        AnsiConsole.Console.Write(t);
    }
}
