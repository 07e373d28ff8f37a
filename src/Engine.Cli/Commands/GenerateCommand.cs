using System.CommandLine;
using System.Diagnostics;
using CoAR.Engine.Cli.Jobs;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Files;
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
        var prompts = new Option<string?>("--prompts") { Description = "A JSONL file, one {\"prompt\": ...} per line (optional per line: seed, count, size, cfg, top_k, temperature, images: a path or a list, relative to the file's folder, in place of --image; instruction: false, in place of --no-instruction)" };
        var images = new Option<string[]>("--image", "-i")
        {
            Description = "A reference image in the prompt (Lumina-mGPT's <|image|>): repeat for several; each goes where the next <|image|> stands in the prompt, "
                          + "or, when the prompt has none, all go first, before the instruction (as Lumina-mGPT places them). Encoded by the VQGAN at its best size for --target. "
                          + "FILE=PLACEHOLDER: the image shows that concept, whose token-index embedding (if it has one) goes on the image's tokens",
            DefaultValueFactory = _ => [],
        };
        var size = new Option<string>("--size") { Description = "Image size in pixels: 768 or WxH (multiples of 32)", DefaultValueFactory = _ => "768" };
        var cfg = new Option<float>("--cfg") { Description = "Classifier-free guidance scale (1 = none)", DefaultValueFactory = _ => 4f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely image tokens (0 = all)", DefaultValueFactory = _ => 2000 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong?>("--seed") { Description = "Base seed; image i of the job gets seed + i. Default: random, recorded in OUT/job.json (a sharded job's comes from the job itself, so all shards agree)" };
        var count = new Option<int>("--count", "-n") { Description = "Images per prompt", DefaultValueFactory = _ => 1 };
        var batch = new Option<string>("--batch") { Description = "Guided images generated at once (continuous batching: an image joins as soon as another finishes): at most N, or auto (as many as fit in memory, up to 16); unguided images take half the room", DefaultValueFactory = _ => "auto" };
        var device = DeviceOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var output = new Option<string>("--out", "-o") { Description = "Output directory (PNGs, JSON sidecars, job.json); one run at a time uses it (one per shard: shards share it)", DefaultValueFactory = _ => "out" };
        var shard = new Option<string?>("--shard")
        {
            Description = "Run shard I of N of the job (I/N, from 0): images I, I+N, I+2N, ...; names and seeds do not depend on N. "
                          + "Default: from a Slurm array task (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX), else the whole job. "
                          + "Without --seed, a sharded job (0/1 too) takes its base seed from the job itself, so all shards agree",
        };
        var shardCount = new Option<int?>("--shard-count") { Description = "The number of shards of a Kubernetes Indexed Job (its completions), whose index comes from JOB_COMPLETION_INDEX (or set COAR_SHARD_COUNT)" };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };
        var concepts = new Option<string[]>("--concept", "-c")
        {
            Description = "A trained concept file, bound to its placeholder (or FILE=PLACEHOLDER to rebind); repeat for several",
            DefaultValueFactory = _ => [],
        };
        var weights = new AdaptedWeightOptions();
        var noMask = new Option<bool>("--no-identity-mask") { Description = "Let different concepts' tokens attend to each other" };
        var noInstruction = new Option<bool>("--no-instruction")
        {
            Description = "Use the prompt as the whole human turn, without \"Generate an image of WxH according to the following prompt:\" (as Lumina-mGPT's image-conditioned tasks write theirs, "
                          + "e.g. \"Generate an image according to the provided image, and according to the following caption:\\n... <|image|>\")",
        };
        var noIndex = new Option<bool>("--no-index-embeddings") { Description = "Leave out the concepts' token-index embeddings (those trained with --index-embedding add theirs by default)" };
        var uncondSlots = new Option<bool>("--uncond-image-slots") { Description = "Give the unconditional (CFG) row the concepts' image slots too" };
        var target = new Option<int>("--target") { Description = "The checkpoint's resolution (Lumina-mGPT-7B-512, -768 or -1024): bounds the image area", DefaultValueFactory = _ => 768 };
        target.AcceptOnlyFromAmong("512", "768", "1024");

        var cmd = new Command(name, description);
        foreach (var o in (Option[])[model, prompt, prompts, images, size, cfg, topK, temperature, seed, count, batch, device, vqgan, output, shard, shardCount, json, concepts, .. weights.All, noMask, noIndex, noInstruction, uncondSlots, target])
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
            // Read before the output directory is touched: a bad adapter or weights file leaves nothing behind.
            var adapted = weights.Read(parse);
            var imageArgs = parse.GetValue(images)!;
            if (imageArgs.Length > JobLine.MaxImagesPerLine)
                throw new UsageException($"--image is given {imageArgs.Length} times, more than the {JobLine.MaxImagesPerLine} one prompt may hold");
            var settings = new JobSettings(w, h, parse.GetValue(cfg), parse.GetValue(topK), parse.GetValue(temperature), copies,
                ConceptBinding.Describe(conceptArgs), !parse.GetValue(noMask))
            {
                References = ReferenceImageFiles.Describe(imageArgs), IndexEmbeddings = !parse.GetValue(noIndex), Instruction = !parse.GetValue(noInstruction),
                Lora = adapted.LoraDescription,
                Projections = adapted.ProjectionsArgument ?? "",
            };
            try
            {
                new SamplingSettings(settings.Cfg, settings.TopK, settings.Temperature).Validate();
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }
            var lines = file is not null ? JobLine.ReadFile(file) : [new JobLine(text!, null, null, null, null, null, null)];
            var lineImages = lines.Select(l => l.Images ?? imageArgs).ToList();
            CheckImageCounts(lines, lineImages, file);
            string dir = ModelOption.Resolve(parse.GetValue(model));
            var part = Shard.Resolve(parse.GetValue(shard), parse.GetValue(shardCount), Environment.GetEnvironmentVariable, out string? shardSource);
            if (shardSource is not null)
                Console.Error.WriteLine($"note: running shard {part} of the job, from the {shardSource}; --shard 0/1 runs the whole job");
            using var outputLock = OutputLock.Acquire(parse.GetValue(output)!, name, part ?? Shard.Whole);
            var job = GenerationJob.Plan(parse.GetValue(output)!, lines, settings, parse.GetValue(seed), s => CliParsing.ImageSize(s, "size"), part);
            var pending = job.Pending.ToList();
            int owned = job.Owned.Count();
            int skipped = owned - pending.Count;
            var summary = new GenerationSummary(job.OutputDir, owned, skipped, 0, job.BaseSeed, 0, 0, "") { Shard = part?.ToString() };
            if (pending.Count == 0)
            {
                Report(summary, parse.GetValue(json));
                return ExitCodes.Ok;
            }

            // Every image file is read before the model loads: a bad one fails the job at once.
            var referenceFiles = ReferenceImageFiles.Read(pending.SelectMany(i => lineImages[i.Line]));
            var clock = Stopwatch.StartNew();
            using var engine = CoarEngine.Load(new EngineParams(dir, parse.GetValue(device)!, parse.GetValue(vqgan), parse.GetValue(target)), cancellation: ct);
            DeviceOption.Report(engine.Device);
            var bound = ConceptBinding.Load(conceptArgs, engine);
            adapted.Apply(engine);
            pending = pending.Select(i => i with
            {
                Prompt = i.Prompt with
                {
                    Concepts = bound, IdentityMask = !parse.GetValue(noMask), UnconditionalImageSlots = parse.GetValue(uncondSlots),
                    IndexEmbeddings = !parse.GetValue(noIndex),
                    References = referenceFiles.For(lineImages[i.Line], engine),
                },
            }).ToList();
            int promptTokens = 1;
            foreach (var image in pending)
            {
                try
                {
                    var request = engine.Generator.Prepare(image.Prompt);
                    promptTokens = Math.Max(promptTokens, Math.Max(request.PromptTokens.Length, request.UnconditionalPrefix?.Tokens.Length ?? 0));
                }
                catch (Exception e) when (e is ArgumentException or InvalidDataException)
                {
                    string where = file is null ? "--prompt" : $"{file}, prompt {image.Line + 1}";
                    throw new UsageException($"{where}: {e.Message}");
                }
            }
            var plan = engine.PlanScheduler(pending.Max(i => i.Prompt.Width), pending.Max(i => i.Prompt.Height), promptTokens,
                BatchSize(parse.GetValue(batch)!, pending.Count));
            job.Commit();
            var run = new ShardRun(job, owned, skipped, engine.Backend.Name);
            int written = 0;
            long tokens = 0;
            try
            {
                using var scheduler = engine.CreateScheduler(plan);
                await RunWithProgress(pending.Sum(i => (long)ImageLayout.For(i.Prompt.Width, i.Prompt.Height).BodyLength), async progress =>
                {
                    await foreach (var (image, generated) in GenerateAll(scheduler, pending, progress, ct))
                    {
                        // Sidecar first, PNG last: an image counts as done only when its PNG exists, and both are atomic.
                        var sidecar = ImageSidecar.From(generated, dir, engine.Fingerprint, engine.Backend.Name) with
                        {
                            Concepts = conceptArgs, Lora = adapted.Adapters.Count > 0 ? [.. adapted.LoraArguments] : null,
                            LoraMode = adapted.Adapters.Count > 0 ? adapted.LoraMode : null, Projections = adapted.ProjectionsArgument,
                        };
                        AtomicFile.WriteAllText(Path.Combine(job.OutputDir, image.SidecarName), sidecar.ToJson());
                        ImageFile.SavePng(generated.Image, Path.Combine(job.OutputDir, image.PngName));
                        written++;
                        tokens += generated.Timings.Tokens;
                        run.Wrote(written);
                    }
                });
            }
            catch (Exception e)
            {
                run.End(written, e is OperationCanceledException ? ShardProgress.Cancelled : ShardProgress.Failed, e.Message);
                throw;
            }
            run.End(written, ShardProgress.Finished, null);
            double seconds = clock.Elapsed.TotalSeconds;
            Report(summary with { Written = written, Seconds = seconds, TokensPerSecond = tokens / Math.Max(seconds, 1e-9), Device = engine.Backend.Name },
                parse.GetValue(json));
            return ExitCodes.Ok;
        }, cancellation));
        return cmd;
    }

    /// <summary>
    /// One image per &lt;|image|&gt; in each prompt (a prompt without the symbol takes its images first, said once on
    /// stderr); a different count is a usage error naming --image or the line's "images".
    /// </summary>
    private static void CheckImageCounts(IReadOnlyList<JobLine> lines, IReadOnlyList<string[]> lineImages, string? file)
    {
        bool noted = false;
        for (int i = 0; i < lines.Count; i++)
        {
            int symbols = LuminaPrompt.ImagePlaceholderCount(lines[i].Prompt);
            int given = lineImages[i].Length;
            string where = file is null ? "--prompt" : $"{file}, prompt {i + 1}";
            string option = lines[i].Images is null ? "--image" : $"{file}, prompt {i + 1}, field 'images'";
            if (symbols > 0 && symbols != given)
                throw new UsageException($"{where} holds {symbols} {LuminaPrompt.ImagePlaceholder} but {option} gives {given} image(s): give one image per {LuminaPrompt.ImagePlaceholder}");
            if (symbols == 0 && given > 0 && !noted)
            {
                Console.Error.WriteLine($"note: {where} has no {LuminaPrompt.ImagePlaceholder}: its {given} image(s) go first, before the instruction, as Lumina-mGPT places them");
                noted = true;
            }
        }
    }

    /// <summary>
    /// Feeds the images to the scheduler, a few more than run at once so that one joins as soon as another finishes,
    /// and yields each as it is done (in the order they finish). <paramref name="progress"/> gets the body tokens drawn
    /// so far by all of them. The first failure ends the run (the rest are cancelled with the scheduler).
    /// </summary>
    private static async IAsyncEnumerable<(JobImage Image, GeneratedImage Generated)> GenerateAll(GenerationScheduler scheduler,
        List<JobImage> images, Action<long> progress, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        int window = 2 * scheduler.Plan.Rows;
        var running = new Dictionary<Task<GeneratedImage>, JobImage>();
        long drawn = 0;
        int next = 0;
        while (next < images.Count || running.Count > 0)
        {
            while (next < images.Count && running.Count < window)
            {
                int seen = 0; // this image's tokens already counted (the worker thread reports them, in order)
                var task = scheduler.SubmitAsync(images[next].Prompt, new ImmediateProgress(p =>
                {
                    progress(Interlocked.Add(ref drawn, p.TokensDone - seen));
                    seen = p.TokensDone;
                }), ct);
                running[task] = images[next++];
            }
            var finished = await Task.WhenAny(running.Keys);
            var image = running[finished];
            running.Remove(finished);
            yield return (image, await finished);
        }
    }

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class ImmediateProgress(Action<ImageProgress> report) : IProgress<ImageProgress>
    {
        public void Report(ImageProgress value) => report(value);
    }

    /// <summary>A shard's progress file, rewritten at most once a second while images are written, and at the end.</summary>
    private sealed class ShardRun
    {
        private readonly GenerationJob _job;
        private readonly Stopwatch _sinceSave = Stopwatch.StartNew();
        private ShardProgress _progress;

        public ShardRun(GenerationJob job, int owned, int skipped, string device)
        {
            _job = job;
            var now = DateTimeOffset.Now;
            _progress = new ShardProgress(job.Shard.Index, job.Shard.Count, Environment.MachineName, Environment.ProcessId, device, now, now,
                owned, skipped, 0, ShardProgress.Running);
            _progress.Save(job.OutputDir);
        }

        public void Wrote(int written)
        {
            if (_sinceSave.Elapsed < TimeSpan.FromSeconds(1)) return;
            Save(written, ShardProgress.Running, null);
        }

        public void End(int written, string state, string? error)
        {
            try
            {
                Save(written, state, error);
            }
            catch (OutputWriteException) when (state != ShardProgress.Finished)
            {
                // The run already failed; that failure is the one to report.
            }
        }

        private void Save(int written, string state, string? error)
        {
            int skipped = _progress.Done - _progress.Written;
            _progress = _progress with { Updated = DateTimeOffset.Now, Written = written, Done = skipped + written, State = state, Error = error };
            _progress.Save(_job.OutputDir);
            _sinceSave.Restart();
        }
    }

    /// <summary>The most guided images at once: --batch N, or auto (up to 16); the memory estimate may allow fewer.</summary>
    private static int BatchSize(string value, int pending)
    {
        if (value == "auto") return Math.Min(16, pending);
        if (int.TryParse(value, out int b) && b > 0) return b;
        throw new UsageException($"--batch '{value}': expected a positive number or auto");
    }

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
        string shard = s.Shard is null ? "" : $" (shard {s.Shard})";
        AnsiConsole.Console.MarkupLine(s.Written > 0
            ? $"wrote {s.Written} image(s) to {Markup.Escape(s.OutputDir)}{shard}{skipped} in {s.Seconds:F1} s ({s.TokensPerSecond:F0} image tokens/s on {Markup.Escape(s.Device)}, base seed {s.BaseSeed})"
            : $"nothing to do: all {s.Images} image(s){shard} are already in {Markup.Escape(s.OutputDir)}");
    }
}

/// <summary>The end-of-run numbers of `coar generate`.</summary>
public sealed record GenerationSummary(string OutputDir, int Images, int Skipped, int Written, ulong BaseSeed, double Seconds, double TokensPerSecond, string Device)
{
    /// <summary>The shard run (I/N), or null for the whole job.</summary>
    public string? Shard { get; init; }
}

/// <summary>Tokens per second in the progress bar (Spectre's transfer column speaks in bytes).</summary>
internal sealed class TransferSpeedColumnTokens : ProgressColumn
{
    public override Spectre.Console.Rendering.IRenderable Render(Spectre.Console.Rendering.RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        new Text(task.Speed is { } s ? $"{s:F0} tok/s" : "", Style.Plain);
}
