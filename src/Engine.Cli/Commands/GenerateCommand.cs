using System.CommandLine;
using System.Diagnostics;
using CoAR.Engine.Cli.Jobs;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Imaging;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar generate`: text to images, one PNG and a JSON sidecar each, resumable, in batches.</summary>
public static class GenerateCommand
{
    public static Command Create() => Create("generate", "Generate images from text with Lumina-mGPT (batched classifier-free guidance on a KV cache).", minConcepts: 0);

    /// <summary>`coar compose`: generation with two or more concepts (subjects and styles) under the identity mask.</summary>
    public static Command CreateCompose() => Create("compose",
        "Compose trained concepts without further training: e.g. --concept dog.safetensors --concept ink.safetensors --prompt \"a photo of [V] dog in [S] style\".",
        minConcepts: 2);

    private static Command Create(string name, string description, int minConcepts)
    {
        var model = ModelOption.Create();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "The image caption" };
        var prompts = new Option<string?>("--prompts") { Description = "A JSONL file, one {\"prompt\": ...} per line (optional per line: seed, count, size, cfg, top_k, temperature)" };
        var size = new Option<string>("--size") { Description = "Image size in pixels: 768 or WxH (multiples of 32)", DefaultValueFactory = _ => "768" };
        var cfg = new Option<float>("--cfg") { Description = "Classifier-free guidance scale (1 = none)", DefaultValueFactory = _ => 4f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely image tokens (0 = all)", DefaultValueFactory = _ => 2000 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong?>("--seed") { Description = "Base seed; image i of the job gets seed + i. Default: random, recorded in OUT/job.json" };
        var count = new Option<int>("--count", "-n") { Description = "Images per prompt", DefaultValueFactory = _ => 1 };
        var batch = new Option<string>("--batch") { Description = "Images generated together: a number, or auto (the most that fit in memory, up to 16)", DefaultValueFactory = _ => "auto" };
        var device = DeviceOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var output = new Option<string>("--out", "-o") { Description = "Output directory (PNGs, JSON sidecars, job.json); one run at a time uses it", DefaultValueFactory = _ => "out" };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };
        var concepts = new Option<string[]>("--concept", "-c")
        {
            Description = "A trained concept file, bound to its placeholder (or FILE=PLACEHOLDER to rebind); repeat for several",
            DefaultValueFactory = _ => [],
        };
        var noMask = new Option<bool>("--no-identity-mask") { Description = "Let different concepts' tokens attend to each other" };
        var uncondSlots = new Option<bool>("--uncond-image-slots") { Description = "Give the unconditional (CFG) row the concepts' image slots too" };
        var target = new Option<int>("--target") { Description = "The checkpoint's resolution (Lumina-mGPT-7B-512, -768 or -1024): bounds the image area", DefaultValueFactory = _ => 768 };
        target.AcceptOnlyFromAmong("512", "768", "1024");

        var cmd = new Command(name, description);
        foreach (var o in new Option[] { model, prompt, prompts, size, cfg, topK, temperature, seed, count, batch, device, vqgan, output, json, concepts, noMask, uncondSlots, target })
            cmd.Options.Add(o);
        cmd.SetAction((parse, cancellation) => CommandRunner.RunAsync(parse, async ct =>
        {
            string? text = parse.GetValue(prompt), file = parse.GetValue(prompts);
            if ((text is null) == (file is null))
                throw new UsageException("give exactly one of --prompt TEXT or --prompts FILE.jsonl");
            var (w, h) = CliParsing.ImageSize(parse.GetValue(size)!);
            int copies = parse.GetValue(count);
            if (copies is <= 0 or > JobLine.MaxCountPerLine) throw new UsageException($"--count {copies}: expected 1 to {JobLine.MaxCountPerLine}");
            var conceptArgs = parse.GetValue(concepts)!;
            if (conceptArgs.Length < minConcepts)
                throw new UsageException($"{name} needs at least {minConcepts} --concept files");
            var settings = new JobSettings(w, h, parse.GetValue(cfg), parse.GetValue(topK), parse.GetValue(temperature), copies,
                ConceptBinding.Describe(conceptArgs), !parse.GetValue(noMask));
            try
            {
                new SamplingSettings(settings.Cfg, settings.TopK, settings.Temperature).Validate();
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }
            var lines = file is not null ? JobLine.ReadFile(file) : [new JobLine(text!, null, null, null, null, null, null)];
            string dir = ModelOption.Resolve(parse.GetValue(model));
            using var outputLock = OutputLock.Acquire(parse.GetValue(output)!, name);
            var job = GenerationJob.Plan(parse.GetValue(output)!, lines, settings, parse.GetValue(seed), s => CliParsing.ImageSize(s, "size"));
            var pending = job.Pending.ToList();
            int skipped = job.Images.Count - pending.Count;
            var summary = new GenerationSummary(job.OutputDir, job.Images.Count, skipped, 0, job.BaseSeed, 0, 0, "");
            if (pending.Count == 0)
            {
                Report(summary, parse.GetValue(json));
                return ExitCodes.Ok;
            }

            var clock = Stopwatch.StartNew();
            using var engine = CoarEngine.Load(new EngineParams(dir, parse.GetValue(device)!, parse.GetValue(vqgan), parse.GetValue(target)), cancellation: ct);
            DeviceOption.Report(engine.Device);
            var bound = ConceptBinding.Load(conceptArgs, engine);
            pending = pending.Select(i => i with
            {
                Prompt = i.Prompt with { Concepts = bound, IdentityMask = !parse.GetValue(noMask), UnconditionalImageSlots = parse.GetValue(uncondSlots) },
            }).ToList();
            foreach (var image in pending)
            {
                try
                {
                    engine.Generator.Check(image.Prompt);
                }
                catch (ArgumentException e)
                {
                    string where = file is null ? "--prompt" : $"{file}, prompt {image.Line + 1}";
                    throw new UsageException($"{where}: {e.Message}");
                }
            }
            int batchSize = BatchSize(parse.GetValue(batch)!, engine, pending);
            job.Commit();
            long tokens = 0;
            int written = 0;
            await RunWithProgress(pending.Sum(i => (long)ImageLayout.For(i.Prompt.Width, i.Prompt.Height).BodyLength), async progress =>
            {
                foreach (var group in Batches(pending, batchSize))
                {
                    long before = tokens;
                    var images = await Task.Run(() => engine.Generate(group.Select(g => g.Prompt).ToList(),
                        new Progress<GenerationProgress>(p => progress(before + p.TokensDone)), ct), ct);
                    for (int i = 0; i < images.Count; i++)
                    {
                        // Sidecar first, PNG last: an image counts as done only when its PNG exists, and both are atomic.
                        var sidecar = ImageSidecar.From(images[i], dir, engine.Fingerprint, engine.Backend.Name) with { Concepts = conceptArgs };
                        sidecar.Save(Path.Combine(job.OutputDir, group[i].SidecarName));
                        ImageFile.SavePng(images[i].Image, Path.Combine(job.OutputDir, group[i].PngName));
                        written++;
                    }
                    tokens = before + images.Sum(im => (long)ImageLayout.For(im.Prompt.Width, im.Prompt.Height).BodyLength);
                    progress(tokens);
                }
            });
            double seconds = clock.Elapsed.TotalSeconds;
            Report(summary with { Written = written, Seconds = seconds, TokensPerSecond = tokens / Math.Max(seconds, 1e-9), Device = engine.Backend.Name },
                parse.GetValue(json));
            return ExitCodes.Ok;
        }, cancellation));
        return cmd;
    }

    private static int BatchSize(string value, CoarEngine engine, List<JobImage> pending)
    {
        if (value == "auto")
        {
            var first = pending[0].Prompt;
            return engine.LargestBatch(first.Width, first.Height, first.Sampling.UsesGuidance, cap: Math.Min(16, pending.Count));
        }
        if (int.TryParse(value, out int b) && b > 0) return b;
        throw new UsageException($"--batch '{value}': expected a positive number or auto");
    }

    /// <summary>Consecutive images of the same size and guidance, at most <paramref name="size"/> per batch.</summary>
    private static IEnumerable<List<JobImage>> Batches(List<JobImage> images, int size)
    {
        var current = new List<JobImage>();
        foreach (var image in images)
        {
            if (current.Count > 0 && (current.Count == size || !SameShape(current[0].Prompt, image.Prompt)))
            {
                yield return current;
                current = new List<JobImage>();
            }
            current.Add(image);
        }
        if (current.Count > 0) yield return current;
    }

    private static bool SameShape(ImagePrompt a, ImagePrompt b) =>
        a.Width == b.Width && a.Height == b.Height && a.Sampling.UsesGuidance == b.Sampling.UsesGuidance;

    /// <summary>A progress bar with image tokens done, tokens/s and ETA, when the console is interactive.</summary>
    private static async Task RunWithProgress(long totalTokens, Func<Action<long>, Task> work)
    {
        var console = AnsiConsole.Console;
        if (!console.Profile.Capabilities.Interactive)
        {
            await work(_ => { });
            return;
        }
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumnTokens(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask("image tokens", maxValue: totalTokens);
                await work(done => task.Value = done);
            });
    }

    private static void Report(GenerationSummary s, bool json)
    {
        if (json)
        {
            Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(s, CliJson.Options));
            return;
        }
        string skipped = s.Skipped > 0 ? $", {s.Skipped} already there" : "";
        AnsiConsole.Console.MarkupLine(s.Written > 0
            ? $"wrote {s.Written} image(s) to {Markup.Escape(s.OutputDir)}{skipped} in {s.Seconds:F1} s ({s.TokensPerSecond:F0} image tokens/s on {Markup.Escape(s.Device)}, base seed {s.BaseSeed})"
            : $"nothing to do: all {s.Images} image(s) are already in {Markup.Escape(s.OutputDir)}");
    }
}

/// <summary>The end-of-run numbers of `coar generate`.</summary>
public sealed record GenerationSummary(string OutputDir, int Images, int Skipped, int Written, ulong BaseSeed, double Seconds, double TokensPerSecond, string Device);

/// <summary>Tokens per second in the progress bar (Spectre's transfer column speaks in bytes).</summary>
internal sealed class TransferSpeedColumnTokens : ProgressColumn
{
    public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        new Text(task.Speed is { } s ? $"{s:F0} tok/s" : "", Style.Plain);
}
