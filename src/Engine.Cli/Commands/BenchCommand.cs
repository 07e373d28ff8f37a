using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Benchmarks;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Tools;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// `coar bench`: end-to-end throughput (prefill, decode step, image tokens/s, images/s, GB/s, memory), or with
/// --train the time of a concept training step; --profile adds where the time goes, op by op (CPU backend).
/// </summary>
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
        var steps = new Option<int?>("--steps") { Description = "Timed decode steps (default 32), or training steps with --train (default 3)" };
        var noCfg = new Option<bool>("--no-cfg") { Description = "No unconditional rows" };
        var size = new Option<string>("--size") { Description = "Image size the images/s figure is extrapolated to (and --full generates)", DefaultValueFactory = _ => "768" };
        var full = new Option<bool>("--full") { Description = "Also time the generation of whole images" };
        var train = new Option<bool>("--train") { Description = "Time concept training steps (subject pass, class pass, CASR, AdamW) at --size on synthetic images instead" };
        var layers = new Option<int?>("--layers") { Description = "With --train: injection depth (default: the model's layers, at most 9)" };
        var noDpp = new Option<bool>("--no-dpp") { Description = "With --train: no class-image pass (DPP) in the step" };
        var method = new Option<string>("--method")
        {
            Description = "With --train: coar (context tokens), textual-inversion (the [V] embedding), lora (LoRA on q/k/v of every layer) or personalar "
                          + "(PersonalAR's stage 2: the embedding with --stage2 full q/k/v weights or LoRA on them); textual inversion and PersonalAR have no DPP pass",
            DefaultValueFactory = _ => "coar",
        };
        method.AcceptOnlyFromAmong("coar", "textual-inversion", "lora", "personalar");
        var stage2 = new Option<string>("--stage2") { Description = "With --train --method personalar: full (q/k/v weights) or lora", DefaultValueFactory = _ => "full" };
        stage2.AcceptOnlyFromAmong("full", "lora");
        var loraRank = new Option<int>("--lora-rank") { Description = "With --train --method lora: the adapters' rank", DefaultValueFactory = _ => 64 };
        var profile = new Option<bool>("--profile") { Description = "Also print where the timed part's time goes, op by op (CPU backend; COAR_PROFILE=1 does the same for any command)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var cmd = new Command("bench", "Measure generation throughput on a device: prefill tokens/s, decode step ms, image tokens/s, images/s, achieved GB/s, peak memory; or with --train the time of a training step.");
        foreach (var o in new Option[] { model, shape, device, images, prompt, context, steps, noCfg, size, full, train, layers, noDpp, method, stage2, loraRank, profile, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            var (w, h) = CliParsing.ImageSize(parse.GetValue(size)!);
            if (parse.GetValue(steps) is <= 0) throw new UsageException("--steps must be positive");
            var log = parse.GetValue(json) ? null : new ConsoleProgress<string>(s => AnsiConsole.Console.MarkupLine(Markup.Escape(s)));
            bool profiling = parse.GetValue(profile), profiledBefore = CpuOpProfile.Enabled;
            Action? startProfile = profiling ? () => { CpuOpProfile.Reset(); CpuOpProfile.Enabled = true; } : null;
            try
            {
                if (parse.GetValue(train))
                {
                    if (parse.GetValue(shape) is not null) throw new UsageException("--train runs on a checkpoint (--model, or the built-in model), not --shape");
                    if (w != h) throw new UsageException($"--train trains on square images; --size {w}x{h} is not square");
                    string name = parse.GetValue(method)!;
                    var trained = name switch
                    {
                        "lora" => TrainingMethod.Lora, "textual-inversion" => TrainingMethod.TextualInversion, "personalar" => TrainingMethod.PersonalAr,
                        _ => TrainingMethod.Coar,
                    };
                    if (trained != TrainingMethod.Coar && parse.GetValue(layers) is not null)
                        throw new UsageException($"--layers is CoAR's injection depth; --method {name} has its own (the [V] embedding at layer 0, weights in every layer)");
                    if (trained != TrainingMethod.PersonalAr && parse.GetResult(stage2) is { Implicit: false })
                        throw new UsageException($"--stage2 belongs to --method personalar, not --method {name}");
                    if (parse.GetValue(loraRank) is < 1 or > 4096) throw new UsageException($"--lora-rank {parse.GetValue(loraRank)}: expected 1 to 4096");
                    return Train(ModelOption.Resolve(parse.GetValue(model)), parse.GetValue(device)!, new TrainingBenchmarkSettings(w, parse.GetValue(layers),
                        !parse.GetValue(noDpp), Steps: parse.GetValue(steps) ?? 3, Method: trained, LoraRank: parse.GetValue(loraRank),
                        Stage2: parse.GetValue(stage2) == "lora" ? WeightTraining.Lora : WeightTraining.Full), parse.GetValue(json), log, startProfile);
                }
                var settings = new ThroughputSettings(parse.GetValue(images), parse.GetValue(prompt), parse.GetValue(context), parse.GetValue(steps) ?? 32,
                    !parse.GetValue(noCfg), Width: w, Height: h, FullImage: parse.GetValue(full));
                if (settings.Images <= 0 || settings.PromptTokens <= 0 || settings.Context <= 0)
                    throw new UsageException("--batch, --prompt-tokens and --context must be positive");
                using var backend = DeviceOption.Open(parse.GetValue(device)!);
                using var m = LoadModel(parse.GetValue(model), parse.GetValue(shape), backend);
                try
                {
                    ThroughputBenchmark.Check(m, settings);
                }
                catch (ArgumentOutOfRangeException e)
                {
                    throw new UsageException(e.Message.Split(" (Parameter")[0]);
                }
                var result = ThroughputBenchmark.Run(m, settings, log, startProfile);
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(result, CliJson.Options));
                else
                    Print(result, settings);
                return ExitCodes.Ok;
            }
            finally
            {
                if (profiling)
                {
                    OpProfileReport.Print();
                    CpuOpProfile.Enabled = profiledBefore;
                }
            }
        }));
        return cmd;
    }

    private static int Train(string modelDir, string device, TrainingBenchmarkSettings settings, bool json, IProgress<string>? log, Action? startProfile)
    {
        int target = settings.Resolution is 512 or 1024 ? settings.Resolution : 768;
        using var engine = CoarEngine.Load(new EngineParams(modelDir, device, TargetSize: target));
        DeviceOption.Report(engine.Device);
        int modelLayers = engine.Model.Config.NumLayers;
        if (settings.Layers is { } l && (l <= 0 || l > modelLayers))
            throw new UsageException($"--layers {l}: the model has {modelLayers} layers; give 1 to {modelLayers}");
        var result = TrainingBenchmark.Run(engine, settings, log, startProfile);
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(result, CliJson.Options));
        else
            AnsiConsole.Console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.Method} training step ({result.Parameters:N0} parameters) on {result.Device} at {result.Resolution} px ({result.SequenceTokens} image tokens), {result.Layers} layers, DPP {(result.Dpp ? "on" : "off")}: best {result.BestSeconds:F2} s, median {result.MedianSeconds:F2} s over {result.StepSeconds.Length} steps ({result.CpuSeconds.Min():F2} CPU s per step at best)"));
        return ExitCodes.Ok;
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
