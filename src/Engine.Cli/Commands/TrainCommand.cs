using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Training;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// `coar train`: learn a subject or style as per-layer context tokens through the frozen model (--method coar), or as
/// LoRA adapters written in PEFT's layout (--method lora). The options fill a
/// <see cref="TrainingSettings"/>; everything after that is <see cref="TrainingJob"/>, the path the library's
/// <see cref="CoarEngine.TrainConcept"/> takes too.
/// </summary>
public static class TrainCommand
{
    /// <summary>The option each <see cref="TrainingSettings"/> property comes from, to name it in errors.</summary>
    private static readonly Dictionary<string, string> OptionOf = new()
    {
        [nameof(TrainingSettings.ClassNoun)] = "--class",
        [nameof(TrainingSettings.Placeholder)] = "--placeholder",
        [nameof(TrainingSettings.Template)] = "--placeholder",
        [nameof(TrainingSettings.Steps)] = "--steps",
        [nameof(TrainingSettings.Depth)] = "--layers",
        [nameof(TrainingSettings.Resolution)] = "--resolution",
        [nameof(TrainingSettings.LearningRate)] = "--lr",
        [nameof(TrainingSettings.Beta1)] = "--beta1",
        [nameof(TrainingSettings.Beta2)] = "--beta2",
        [nameof(TrainingSettings.WeightDecay)] = "--weight-decay",
        [nameof(TrainingSettings.DecayedTokens)] = "--decay",
        [nameof(TrainingSettings.GradientClip)] = "--clip",
        [nameof(TrainingSettings.WarmupSteps)] = "--warmup",
        [nameof(TrainingSettings.Schedule)] = "--schedule",
        [nameof(TrainingSettings.MinLearningRate)] = "--min-lr",
        [nameof(TrainingSettings.ZLossWeight)] = "--z-loss",
        [nameof(TrainingSettings.NtpTargets)] = "--ntp-targets",
        [nameof(TrainingSettings.ClassImages)] = "--class-images",
        [nameof(TrainingSettings.Accumulation)] = "--accumulate",
        [nameof(TrainingSettings.Crop)] = "--crop",
        [nameof(TrainingSettings.Seed)] = "--seed",
        [nameof(TrainingSettings.CheckpointEvery)] = "--checkpoint-every",
        [nameof(TrainingSettings.ValidateEvery)] = "--validate-every",
        [nameof(TrainingSettings.ValidationPrompt)] = "--validation-prompt",
        [nameof(TrainingSettings.LoraRank)] = "--lora-rank",
        [nameof(TrainingSettings.LoraAlpha)] = "--lora-alpha",
        [nameof(TrainingSettings.LoraTargets)] = "--lora-targets",
        [nameof(TrainingSettings.References)] = "--reference",
    };

    public static Command Create()
    {
        var defaults = new TrainingSettings { ClassNoun = "x" };
        string F(float v) => v.ToString("G", CultureInfo.InvariantCulture);
        var model = ModelOption.Create();
        var images = new Option<string>("--images", "-i") { Description = "Folder of photos of the subject (3-5), or the style's reference image", Required = true };
        var classNoun = new Option<string?>("--class") { Description = "The subject's class noun, e.g. dog (required for subjects; a style's name for styles)" };
        var method = new Option<string>("--method")
        {
            Description = "coar: per-layer text and image context tokens with DPP and CASR (the default); textual-inversion: PersonalAR's stage 1, the [V] "
                          + "input embedding alone (layer 0, random start, 1500 steps, PersonalAR's prompt templates, no DPP or CASR); lora: LoRA adapters on "
                          + "--lora-targets of every layer, written in PEFT's layout; personalar: PersonalAR's two stages, textual inversion then the [V] embedding "
                          + "with the full q/k/v weights of every layer (--stage2 full) or LoRA on them (--stage2 lora), written to the --out directory",
            DefaultValueFactory = _ => "coar",
        };
        method.AcceptOnlyFromAmong("coar", "textual-inversion", "lora", "personalar");
        var stage2 = new Option<string>("--stage2")
        {
            Description = "With --method personalar: what stage 2 trains besides the [V] embedding: full (the weights of --lora-targets, default q/k/v, "
                          + $"lr {F(TrainingSettings.FullFineTuneLearningRate)}) or lora (LoRA adapters on them, lr {F(TrainingSettings.LoraLearningRate)})",
            DefaultValueFactory = _ => "full",
        };
        stage2.AcceptOnlyFromAmong("full", "lora");
        var stage2Steps = new Option<int>("--stage2-steps") { Description = "With --method personalar: stage 2's optimizer steps (--steps is stage 1's)", DefaultValueFactory = _ => TrainingSettings.PersonalArStage2Steps };
        var stage2Lr = new Option<float?>("--stage2-lr") { Description = "With --method personalar: stage 2's learning rate, for the embedding and the weights (--lr is stage 1's; default by --stage2)" };
        var kind = new Option<string>("--kind") { Description = "subject or style", DefaultValueFactory = _ => "subject" };
        kind.AcceptOnlyFromAmong("subject", "style");
        var placeholder = new Option<string?>("--placeholder") { Description = $"Placeholder in prompts (default [V] for subjects, [S] for styles; with --method lora the plain-text identifier, default {TrainingSettings.LoraIdentifier})" };
        var template = new Option<string?>("--template")
        {
            Description = "The training prompt, with {placeholder} and {class} (default \"a photo of {placeholder} {class}\"; a style's \"a picture in {placeholder} style\"); "
                          + "<|image|> places a --reference image",
        };
        var reference = new Option<string[]>("--reference")
        {
            Description = "An image file in the training and validation prompts (Lumina-mGPT's <|image|>), e.g. a reference photo in context: repeat for several; "
                          + "each goes where the next <|image|> stands in --template, or all first when it has none. Encoded at the training resolution",
            DefaultValueFactory = _ => [],
        };
        var steps = new Option<int?>("--steps") { Description = "Optimizer steps (default 1000 for subjects, 600 for styles, 1500 for textual inversion)" };
        var layers = new Option<int?>("--layers")
        {
            Description = $"Injection depth N: the first N layers get context tokens (default {TrainingSettings.SubjectDepth} subject, {TrainingSettings.StyleDepth} style, at most the model's layers; textual inversion: 1, the input embedding)",
        };
        var target = new Option<int>("--target") { Description = "The checkpoint's resolution (Lumina-mGPT-7B-512, -768 or -1024): bounds the training resolution", DefaultValueFactory = _ => 768 };
        target.AcceptOnlyFromAmong("512", "768", "1024");
        var resolution = new Option<int?>("--resolution") { Description = "Training resolution in pixels, a multiple of 32 (default: the --target)" };
        var lr = new Option<float?>("--lr") { Description = $"Peak learning rate (default {F(defaults.LearningRate)}, the paper's, for coar; {F(TrainingSettings.LoraLearningRate)} for lora)" };
        var loraRank = new Option<int>("--lora-rank") { Description = "With --method lora (or personalar --stage2 lora): the adapters' rank r", DefaultValueFactory = _ => TrainingSettings.DefaultLoraRank };
        var loraAlpha = new Option<float?>("--lora-alpha") { Description = "With --method lora (or personalar --stage2 lora): PEFT's lora_alpha, the term is scaled by alpha / r (default: r, scale 1)" };
        var loraTargets = new Option<string>("--lora-targets")
        {
            Description = "With --method lora or personalar: the adapted (personalar --stage2 full: fine-tuned) projections, comma-separated among q, k, v, o, gate, up, down (or q_proj, ...)",
            DefaultValueFactory = _ => "q,k,v",
        };
        var beta1 = new Option<float>("--beta1") { Description = "AdamW beta1 (Lumina-mGPT's)", DefaultValueFactory = _ => defaults.Beta1 };
        var beta2 = new Option<float>("--beta2") { Description = "AdamW beta2 (Lumina-mGPT's)", DefaultValueFactory = _ => defaults.Beta2 };
        var weightDecay = new Option<float>("--weight-decay") { Description = "Decoupled AdamW weight decay (Lumina-mGPT's 7B recipe)", DefaultValueFactory = _ => defaults.WeightDecay };
        var decay = new Option<string>("--decay") { Description = "Which context tokens the weight decay shrinks", DefaultValueFactory = _ => "all" };
        decay.AcceptOnlyFromAmong("all", "text", "image", "none");
        var clip = new Option<float>("--clip") { Description = "Clip the gradient to this global L2 norm (0: off; Lumina-mGPT's 4)", DefaultValueFactory = _ => defaults.GradientClip };
        var warmup = new Option<int>("--warmup") { Description = "Warmup steps: the learning rate ramps up linearly over them", DefaultValueFactory = _ => defaults.WarmupSteps };
        var schedule = new Option<string>("--schedule") { Description = "Learning rate after the warmup: constant (Lumina-mGPT's 7B script) or cosine down to --min-lr", DefaultValueFactory = _ => "constant" };
        schedule.AcceptOnlyFromAmong("constant", "cosine");
        var minLr = new Option<float>("--min-lr") { Description = "Where the cosine schedule ends", DefaultValueFactory = _ => defaults.MinLearningRate };
        var zLoss = new Option<float>("--z-loss") { Description = "Weight of the z-loss, mean logsumexp(logits)^2, on every NTP term (Lumina-mGPT's 7B recipe; 0: off)", DefaultValueFactory = _ => defaults.ZLossWeight };
        var ntpTargets = new Option<string>("--ntp-targets")
        {
            Description = "What NTP ranges over: image-phase (every image-phase token over the vocabulary, as the backbone was trained) or codes (the codes over the codes, what the sampler draws)",
            DefaultValueFactory = _ => "image-phase",
        };
        ntpTargets.AcceptOnlyFromAmong("image-phase", "codes");
        var noDpp = new Option<bool>("--no-dpp") { Description = "No dual prior preservation (no class images)" };
        var noCasr = new Option<bool>("--no-casr") { Description = "No context-aware self-regularization" };
        var indexEmbedding = new Option<bool>("--index-embedding")
        {
            Description = "Also learn a token-index embedding (TokenAR's): a vector added at the model's input to every token of the concept's source (its slots and the class noun after its placeholder), "
                          + "which tells the concept's tokens apart from another concept's when composed",
        };
        var classImages = new Option<int>("--class-images") { Description = "Class images for DPP, generated once by the frozen model and cached", DefaultValueFactory = _ => defaults.ClassImages };
        var accumulation = new Option<int>("--accumulate") { Description = "Passes averaged into each optimizer step (gradient accumulation; 1: the paper's batch 1)", DefaultValueFactory = _ => 1 };
        var crop = new Option<string>("--crop") { Description = "random: a new seeded crop offset each time a photo is drawn (Lumina-mGPT's); center: always the center", DefaultValueFactory = _ => "random" };
        crop.AcceptOnlyFromAmong("random", "center");
        var validateEvery = new Option<int>("--validate-every") { Description = "Render a validation image every K steps (0: never)", DefaultValueFactory = _ => 0 };
        var validationPrompt = new Option<string?>("--validation-prompt") { Description = "Prompt of the validation images (default: the training prompt)" };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Write a resumable checkpoint every K steps (0: never)", DefaultValueFactory = _ => defaults.CheckpointEvery };
        var restart = new Option<bool>("--restart") { Description = "Start over even when a checkpoint exists (resuming one of other settings is an error otherwise)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the class images, the photo order (shuffled every epoch), the crops and the validation images", DefaultValueFactory = _ => 0 };
        var device = DeviceOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var output = new Option<string>("--out", "-o")
        {
            Description = "The concept file to write (.safetensors); with --method lora, the adapter's directory (adapter_model.safetensors + adapter_config.json); "
                          + $"with --method personalar, a directory for {PersonalArJob.ConceptFileName} and the weights ({FineTunedProjections.FileName}, or the adapter files), "
                          + "stage 1's concept and the checkpoints (a rerun resumes)",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };

        var cmd = new Command("train",
            "Train a CoAR concept (subject or style): context tokens learned through the frozen model. The optimizer defaults are the paper's " +
            $"(lr {F(defaults.LearningRate)}, batch 1) with the rest of Lumina-mGPT's fine-tuning recipe: AdamW({F(defaults.Beta1)}, {F(defaults.Beta2)}), " +
            $"weight decay {F(defaults.WeightDecay)}, gradient clip {F(defaults.GradientClip)}, {defaults.WarmupSteps} warmup steps then constant, z-loss {F(defaults.ZLossWeight)}; " +
            "no dropout (the backbone is frozen). --method lora trains LoRA adapters instead (lr " + F(TrainingSettings.LoraLearningRate) + ", same recipe otherwise) and writes them in PEFT's layout; " +
            "--method textual-inversion learns PersonalAR's [V] input embedding; --method personalar runs PersonalAR's two stages (the embedding, then the embedding " +
            "with the q/k/v weights or LoRA on them) into a directory.");
        foreach (var o in new Option[] { model, images, method, stage2, stage2Steps, stage2Lr, classNoun, kind, loraRank, loraAlpha, loraTargets, placeholder, template, reference, steps, layers, target, resolution, lr, beta1, beta2, weightDecay, decay,
                     clip, warmup, schedule, minLr, zLoss, ntpTargets, noDpp, noCasr, indexEmbedding, classImages, accumulation, crop, validateEvery, validationPrompt, checkpointEvery,
                     restart, seed, device, vqgan, output, json })
            cmd.Options.Add(o);
        cmd.SetAction((parse, cancellation) => CommandRunner.RunAsync(parse, async ct =>
        {
            bool style = parse.GetValue(kind) == "style";
            string? noun = parse.GetValue(classNoun);
            if (!style && string.IsNullOrWhiteSpace(noun))
                throw new UsageException("--class is required for a subject (the class noun, e.g. --class dog)");
            string methodName = parse.GetValue(method)!;
            bool personalAr = methodName == "personalar";
            bool textualInversion = methodName == "textual-inversion" || personalAr;
            if (textualInversion && style)
                throw new UsageException($"--method {methodName} learns a subject's [V] embedding; it has no style variant (--kind style trains with --method coar)");
            if (!personalAr)
                foreach (var (name, given) in new[] { ("--stage2", parse.GetResult(stage2) is { Implicit: false }), ("--stage2-steps", parse.GetResult(stage2Steps) is { Implicit: false }),
                             ("--stage2-lr", parse.GetValue(stage2Lr) is not null) })
                    if (given) throw new UsageException($"{name} belongs to --method personalar (stage 2), not --method {methodName}");
            var preset = textualInversion ? TrainingSettings.ForTextualInversion(noun!)
                : style ? TrainingSettings.ForStyle(string.IsNullOrWhiteSpace(noun) ? "style" : noun) : new TrainingSettings { ClassNoun = noun! };
            var settings = preset with
            {
                Resolution = parse.GetValue(resolution),
                Beta1 = parse.GetValue(beta1),
                Beta2 = parse.GetValue(beta2),
                WeightDecay = parse.GetValue(weightDecay),
                DecayedTokens = Enum.Parse<DecayedTokens>(parse.GetValue(decay)!, ignoreCase: true),
                GradientClip = parse.GetValue(clip),
                WarmupSteps = parse.GetValue(warmup),
                Schedule = Enum.Parse<LearningRateSchedule>(parse.GetValue(schedule)!, ignoreCase: true),
                MinLearningRate = parse.GetValue(minLr),
                ZLossWeight = parse.GetValue(zLoss),
                NtpTargets = parse.GetValue(ntpTargets) == "codes" ? NtpTargets.Codes : NtpTargets.ImagePhase,
                ClassImages = parse.GetValue(classImages),
                Accumulation = parse.GetValue(accumulation),
                Crop = Enum.Parse<CropMode>(parse.GetValue(crop)!, ignoreCase: true),
                Seed = parse.GetValue(seed),
                CheckpointEvery = parse.GetValue(checkpointEvery),
                ValidateEvery = parse.GetValue(validateEvery),
                ValidationPrompt = parse.GetValue(validationPrompt),
            };
            bool lora = parse.GetValue(method) == "lora";
            if (lora)
            {
                if (parse.GetValue(layers) is not null) throw new UsageException("--layers is the context tokens' depth; --method lora adapts every layer");
                if (parse.GetValue(noCasr)) throw new UsageException("--no-casr: --method lora has no CASR (it regularises context tokens)");
                if (parse.GetValue(indexEmbedding)) throw new UsageException("--index-embedding belongs to a concept's context tokens; --method lora trains none");
                settings = settings.ForLora() with
                {
                    LoraRank = parse.GetValue(loraRank),
                    LoraAlpha = parse.GetValue(loraAlpha),
                    LoraTargets = parse.GetValue(loraTargets)!,
                };
            }
            if (parse.GetValue(lr) is { } rate) settings = settings with { LearningRate = rate };
            if (parse.GetValue(placeholder) is { } p) settings = settings with { Placeholder = p };
            if (parse.GetValue(template) is { } t) settings = settings with { Template = t, Templates = null };
            if (parse.GetValue(reference) is { Length: > 0 } references) settings = settings with { References = references };
            // A template the user gave is named as such in errors; the default one only breaks through --placeholder.
            var optionOf = parse.GetValue(template) is null ? OptionOf : new Dictionary<string, string>(OptionOf) { [nameof(TrainingSettings.Template)] = "--template" };
            if (parse.GetValue(steps) is { } n) settings = settings with { Steps = n };
            if (parse.GetValue(layers) is { } l) settings = settings with { Depth = l };
            if (parse.GetValue(noDpp)) settings = settings with { Dpp = false };
            if (parse.GetValue(noCasr)) settings = settings with { Casr = false };
            if (parse.GetValue(indexEmbedding)) settings = settings with { IndexEmbedding = true };
            PersonalArSettings? personal = null;
            if (personalAr)
            {
                int secondSteps = parse.GetValue(stage2Steps);
                if (secondSteps <= 0) throw new UsageException($"--stage2-steps must be positive, got {secondSteps}");
                if (parse.GetValue(stage2Lr) is { } r2 && !(float.IsFinite(r2) && r2 > 0)) throw new UsageException($"--stage2-lr must be a positive number, got {r2}");
                var weights = parse.GetValue(stage2) == "lora" ? WeightTraining.Lora : WeightTraining.Full;
                if (weights == WeightTraining.Full && (parse.GetResult(loraRank) is { Implicit: false } || parse.GetValue(loraAlpha) is not null))
                    throw new UsageException("--lora-rank and --lora-alpha belong to LoRA; --stage2 full fine-tunes the weights themselves (--stage2 lora for LoRA)");
                personal = PersonalArSettings.After(settings, weights, secondSteps, parse.GetValue(stage2Lr),
                    weights == WeightTraining.Lora ? parse.GetValue(loraRank) : null, parse.GetValue(loraAlpha), parse.GetValue(loraTargets));
            }
            // What needs no model fails before the model loads; what needs it, before any class image is made.
            SettingErrors.AsUsage(optionOf, () => { if (personal is null) settings.Validate(); else personal.Validate(); });
            var files = TrainingData.ImageFiles(parse.GetValue(images)!);
            string outPath = lora || personalAr ? AdapterDirectory(parse.GetValue(output)!, methodName) : OutputPath(parse.GetValue(output)!);
            string dir = ModelOption.Resolve(parse.GetValue(model));
            var console = AnsiConsole.Console;

            using var engine = CoarEngine.Load(new EngineParams(dir, parse.GetValue(device)!, parse.GetValue(vqgan), parse.GetValue(target)), cancellation: ct);
            DeviceOption.Report(engine.Device);
            var outputs = new TrainingOutputs(Path.GetDirectoryName(outPath)!)
            {
                ConceptPath = outPath,
                CheckpointPath = Path.ChangeExtension(outPath, ".checkpoint.safetensors"),
                Restart = parse.GetValue(restart),
                ValidationDirectory = Path.ChangeExtension(outPath, ".validation"),
            };
            var log = new ConsoleProgress<string>(m => console.MarkupLine(Markup.Escape(m)));
            if (personal is not null)
                return await RunPersonalAr(engine, personal, files, outPath, parse.GetValue(restart), parse.GetValue(json), optionOf, log, ct);
            using var job = SettingErrors.AsUsage(optionOf, () => TrainingJob.Prepare(engine, settings, files, outputs, log, ct));

            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                await Task.Run(() => job.Train(new ConsoleProgress<TrainingProgress>(pr => PrintStep(console, pr)), ct), ct);
            }
            catch (TrainingDivergedException e)
            {
                throw new UsageException($"--lr: {e.Message}; the concept was not written");
            }
            var trainer = job.Trainer;
            var last = trainer.LastLosses;
            var summary = new TrainingSummary(outPath, trainer.Step, trainer.Step - job.StartStep, clock.Elapsed.TotalSeconds,
                last.Ntp, last.ZLoss, last.Dpp, last.Casr, last.Total, trainer.Parameters, engine.Backend.Name, settings.Method.ToString().ToLowerInvariant());
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(summary, CliJson.Options));
            else
                console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {Markup.Escape(outPath)}{(lora ? " (LoRA adapter, PEFT layout)" : "")}: {summary.Parameters:N0} parameters, {summary.Steps} steps ({summary.StepsRun} this run) in {summary.Seconds:F1} s on {Markup.Escape(summary.Device)}, final loss {summary.Total:F4} (ntp {summary.Ntp:F4}, dpp {summary.Dpp:F4}, casr {summary.Casr:F6})"));
            return ExitCodes.Ok;
        }, cancellation));
        return cmd;
    }

    /// <summary>PersonalAR's two stages (<see cref="PersonalArJob"/>) into the directory <paramref name="outDir"/>, and how to generate with the result.</summary>
    private static async Task<int> RunPersonalAr(CoarEngine engine, PersonalArSettings settings, IReadOnlyList<string> files, string outDir, bool restart, bool json,
        IReadOnlyDictionary<string, string> optionOf, IProgress<string> log, CancellationToken ct)
    {
        var console = AnsiConsole.Console;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        PersonalArResult result;
        try
        {
            result = await Task.Run(() => SettingErrors.AsUsage(optionOf, () => PersonalArJob.Run(engine, settings, files, outDir, outDir, restart, log,
                new ConsoleProgress<TrainingProgress>(pr => PrintStep(console, pr)), ct)), ct);
        }
        catch (TrainingDivergedException e)
        {
            throw new UsageException($"--lr / --stage2-lr: {e.Message}; nothing more was written");
        }
        var last = result.FinalLosses;
        var summary = new TrainingSummary(outDir, result.Steps, result.StepsRun, clock.Elapsed.TotalSeconds, last.Ntp, last.ZLoss, last.Dpp, last.Casr, last.Total,
            result.Parameters, engine.Backend.Name, "personalar");
        string concept = Path.Combine(outDir, PersonalArJob.ConceptFileName);
        string weights = result.Lora is not null ? $"--lora {outDir}" : $"--projections {Path.Combine(outDir, FineTunedProjections.FileName)}";
        if (json)
            Console.WriteLine(JsonSerializer.Serialize(summary, CliJson.Options));
        else
        {
            console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {Markup.Escape(outDir)}: {PersonalArJob.ConceptFileName} and {(result.Lora is not null ? "the LoRA adapter (PEFT layout)" : FineTunedProjections.FileName)}: " +
                $"{summary.Parameters:N0} parameters in stage 2, {summary.Steps} steps ({summary.StepsRun} this run) in {summary.Seconds:F1} s on {Markup.Escape(summary.Device)}, final loss {summary.Total:F4}"));
            string prompt = $"a photo of {settings.Stage2.Placeholder} {settings.Stage2.ClassNoun} on the beach";
            console.MarkupLine(Markup.Escape($"generate with: coar generate --concept {concept} {weights} --prompt \"{prompt}\""));
        }
        return ExitCodes.Ok;
    }

    /// <summary>The output directory's full path (made when the outputs are written; its parent now); a file there is a usage error.</summary>
    private static string AdapterDirectory(string value, string method)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new UsageException($"--out: no directory given (e.g. --out dog-{method})");
        string full = Path.GetFullPath(value).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(full))
            throw new UsageException(method == "lora"
                ? $"--out '{value}' is a file; with --method lora give the adapter's directory (it gets adapter_model.safetensors and adapter_config.json)"
                : $"--out '{value}' is a file; with --method {method} give a directory (it gets {PersonalArJob.ConceptFileName}, the trained weights and stage 1's concept)");
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        }
        catch (IOException e)
        {
            throw new UsageException($"--out '{value}': its parent directory cannot be made ({e.Message})");
        }
        return full;
    }

    /// <summary>The concept file's full path; a folder there, or a folder that cannot be made for it, is a usage error.</summary>
    private static string OutputPath(string value)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new UsageException("--out: no file name given (e.g. --out dog.safetensors)");
        string full = Path.GetFullPath(value);
        if (Directory.Exists(full) || value.EndsWith('/'))
            throw new UsageException($"--out '{value}' is a folder; give the concept file's name, e.g. {Path.Combine(value, "concept.safetensors")}");
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        }
        catch (IOException e)
        {
            throw new UsageException($"--out '{value}': its folder cannot be made ({e.Message})");
        }
        return full;
    }

    private static void PrintStep(IAnsiConsole console, TrainingProgress p)
    {
        var l = p.Losses;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"step {p.Step,5}/{p.Steps}  loss {l.Total:F4}  ntp {l.Ntp:F4}  z {l.ZLoss:F2}  dpp {l.Dpp:F4}  casr {l.Casr:F6}  lr {p.LearningRate:G3}  |g| {p.GradientNorm:G3}  {p.StepTime.TotalMilliseconds:F0} ms"));
    }
}

public sealed record TrainingSummary(string Concept, int Steps, int StepsRun, double Seconds, double Ntp, double ZLoss, double Dpp, double Casr, double Total,
    int Parameters, string Device, string Method);
