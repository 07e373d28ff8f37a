using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Benchmarks;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Files;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar bench-concept`: the planted-concept benchmark, how faithfully training recovers a concept (any checkpoint).</summary>
public static class BenchConceptCommand
{
    private static readonly Dictionary<string, string> OptionOf = new()
    {
        [nameof(PlantedConceptSettings.Photos)] = "--photos",
        [nameof(PlantedConceptSettings.HeldOutSeeds)] = "--held-out-seeds",
        [nameof(PlantedConceptSettings.Strength)] = "--strength",
        [nameof(PlantedConceptSettings.SecondClassNoun)] = "--second-class",
        [nameof(PlantedConceptSettings.IndexEmbeddings)] = "--index-embeddings",
        ["TextSlots"] = "--slots",
        ["ClassNoun"] = "--class",
        ["Steps"] = "--steps",
        ["Depth"] = "--layers",
        ["Resolution"] = "--resolution",
        ["ClassImages"] = "--class-images",
        ["Seed"] = "--seed",
        [nameof(PlantedConceptSettings.LoraRank)] = "--lora-rank",
        [nameof(PlantedConceptSettings.Methods)] = "--methods",
        [nameof(PlantedConceptSettings.LoraLearningRate)] = "--lora-lr",
        [nameof(PlantedConceptSettings.FullLearningRate)] = "--full-lr",
        [nameof(PlantedConceptSettings.Stage2Steps)] = "--stage2-steps",
    };

    public static Command Create()
    {
        var d = new PlantedConceptSettings();
        var model = ModelOption.Create();
        var device = DeviceOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var target = new Option<int>("--target") { Description = "The checkpoint's resolution (512, 768 or 1024): bounds --resolution", DefaultValueFactory = _ => 768 };
        target.AcceptOnlyFromAmong("512", "768", "1024");
        var classNoun = new Option<string>("--class") { Description = "Class noun of the planted concept", DefaultValueFactory = _ => d.ClassNoun };
        var secondClass = new Option<string>("--second-class") { Description = "Class noun of the second planted concept (composition)", DefaultValueFactory = _ => d.SecondClassNoun };
        var resolution = new Option<int>("--resolution") { Description = "Size of the sampled images in pixels (a multiple of 32)", DefaultValueFactory = _ => d.Resolution };
        var photos = new Option<int>("--photos") { Description = "Teacher samples each concept is trained on", DefaultValueFactory = _ => d.Photos };
        var heldOut = new Option<int>("--held-out-seeds") { Description = "Seeds per held-out prompt", DefaultValueFactory = _ => d.HeldOutSeeds };
        var steps = new Option<int>("--steps") { Description = "Training steps per concept (the training recipe is `coar train`'s defaults)", DefaultValueFactory = _ => d.Steps };
        var layers = new Option<int?>("--layers") { Description = "Depth of the planted and learned concepts (default: the paper's 9, clamped to the model)" };
        var classImages = new Option<int>("--class-images") { Description = "Frozen-model class images for DPP", DefaultValueFactory = _ => d.ClassImages };
        var strength = new Option<float>("--strength") { Description = "Planted vectors' distance from the mean hidden state, in standard deviations", DefaultValueFactory = _ => d.Strength };
        var slots = new Option<int>("--slots") { Description = "Text and image tokens per layer of the planted and learned concepts (the paper's 1)", DefaultValueFactory = _ => d.Slots };
        var ntpTargets = new Option<string>("--ntp-targets")
        {
            Description = "What the trainer's NTP ranges over: image-phase (every image-phase token over the vocabulary, `coar train`'s default) or codes (the codes over the codes, what the sampler draws)",
            DefaultValueFactory = _ => "image-phase",
        };
        ntpTargets.AcceptOnlyFromAmong("image-phase", "codes");
        var seed = new Option<int>("--seed") { Description = "Seed of the planted concepts, the samples and the training", DefaultValueFactory = _ => 0 };
        var noComposition = new Option<bool>("--no-composition") { Description = "Skip the two-concept composition" };
        var methods = new Option<string>("--methods")
        {
            Description = "Methods trained on the same teacher samples and compared, comma-separated: coar (LMCL + DPP + CASR and the ablation), " +
                          "textual-inversion (PersonalAR's stage 1), lora (q/k/v), personalar (stage 2 with full q/k/v and with LoRA; " +
                          "personalar-full or personalar-lora for one), all",
            DefaultValueFactory = _ => "all",
        };
        var loraRank = new Option<int>("--lora-rank")
        {
            Description = "Rank of the LoRA adapters on q/k/v of every layer (the lora row and PersonalAR's stage 2 with LoRA)",
            DefaultValueFactory = _ => d.LoraRank,
        };
        var loraLr = new Option<float?>("--lora-lr") { Description = $"Learning rate of the LoRA adapters (default: the recipe's {TrainingSettings.LoraLearningRate})" };
        var fullLr = new Option<float?>("--full-lr")
        {
            Description = $"Learning rate of PersonalAR's stage 2 with full q/k/v weights (default: the recipe's {TrainingSettings.FullFineTuneLearningRate})",
        };
        var stage2Steps = new Option<int?>("--stage2-steps")
        {
            Description = $"PersonalAR's stage-2 steps (default: --steps x {TrainingSettings.PersonalArStage2Steps}/{TrainingSettings.ForTextualInversion("x").Steps}, the recipe's stage 2 to stage 1 ratio)",
        };
        var indexEmbeddings = new Option<bool>("--index-embeddings")
        {
            Description = "Also learn both composed concepts with token-index embeddings and compare what keeps them apart: the identity mask alone, the index embeddings alone, both, neither",
        };
        var noAblation = new Option<bool>("--no-ablation") { Description = "Train only LMCL + DPP + CASR (not LMCL alone and LMCL + DPP)" };
        var work = new Option<string?>("--work") { Description = "Folder for the cached class images (default: a temporary folder, removed afterwards)" };
        var output = new Option<string?>("--out", "-o") { Description = "Also write the markdown table to this file" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var cmd = new Command("bench-concept",
            "Planted-concept benchmark: a teacher (the frozen model plus a concept drawn at random) samples training images as tokens; concepts are " +
            "trained on them (LMCL, + DPP, + DPP + CASR) and compared with the teacher on held-out prompts and seeds: (a) NLL gap, (b) KL(teacher || learned), " +
            "(c) drift KL(frozen || learned) without the placeholder; textual inversion, LoRA and PersonalAR (both stage-2 variants) on the same samples beside them, " +
            "with each method's parameters, file size, step time and memory; " +
            "then two concepts composed, with and without the identity mask.");
        foreach (var o in new Option[] { model, device, vqgan, target, classNoun, secondClass, resolution, photos, heldOut, steps, layers, classImages, strength, slots, ntpTargets, seed,
                     noComposition, indexEmbeddings, noAblation, methods, loraRank, loraLr, fullLr, stage2Steps, work, output, json })
            cmd.Options.Add(o);
        cmd.SetAction((parse, cancellation) => CommandRunner.RunAsync(parse, async ct =>
        {
            var settings = new PlantedConceptSettings
            {
                ClassNoun = parse.GetValue(classNoun)!, SecondClassNoun = parse.GetValue(secondClass)!, Resolution = parse.GetValue(resolution),
                Photos = parse.GetValue(photos), HeldOutSeeds = parse.GetValue(heldOut), Steps = parse.GetValue(steps), Depth = parse.GetValue(layers),
                ClassImages = parse.GetValue(classImages), Strength = parse.GetValue(strength), Seed = parse.GetValue(seed),
                Composition = !parse.GetValue(noComposition), Ablation = !parse.GetValue(noAblation), Slots = parse.GetValue(slots),
                Methods = SettingErrors.AsUsage(OptionOf, () => ParseMethods(parse.GetValue(methods)!)), LoraRank = parse.GetValue(loraRank),
                LoraLearningRate = parse.GetValue(loraLr), FullLearningRate = parse.GetValue(fullLr), Stage2Steps = parse.GetValue(stage2Steps),
                IndexEmbeddings = parse.GetValue(indexEmbeddings),
                NtpTargets = parse.GetValue(ntpTargets) == "codes" ? Graph.Training.NtpTargets.Codes : Graph.Training.NtpTargets.ImagePhase,
            };
            SettingErrors.AsUsage(OptionOf, settings.Validate);
            string dir = ModelOption.Resolve(parse.GetValue(model));
            string? workDir = parse.GetValue(work);
            string cache = workDir ?? Path.Combine(Path.GetTempPath(), $"coar-bench-concept-{Environment.ProcessId}-{Guid.NewGuid():N}");
            bool quiet = parse.GetValue(json);
            var console = AnsiConsole.Console;
            var log = quiet ? null : new ConsoleProgress<string>(m => console.MarkupLine(Markup.Escape(m)));
            try
            {
                using var engine = CoarEngine.Load(new EngineParams(dir, parse.GetValue(device)!, parse.GetValue(vqgan), parse.GetValue(target)), cancellation: ct);
                DeviceOption.Report(engine.Device);
                var report = await Task.Run(() => SettingErrors.AsUsage(OptionOf, () => PlantedConceptBenchmark.Run(engine, settings, cache, log, ct)), ct);
                string markdown = report.ToMarkdown();
                if (parse.GetValue(output) is { } path) AtomicFile.WriteAllText(path, markdown);
                if (quiet)
                    Console.WriteLine(JsonSerializer.Serialize(report, CliJson.Options));
                else
                    Console.WriteLine(markdown);
            }
            finally
            {
                if (workDir is null && Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
            }
            return ExitCodes.Ok;
        }, cancellation));
        return cmd;
    }

    /// <summary>--methods: comma-separated names, each of them known.</summary>
    internal static PlantedMethods ParseMethods(string text)
    {
        var methods = PlantedMethods.None;
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            methods |= name.ToLowerInvariant() switch
            {
                "coar" => PlantedMethods.Coar,
                "textual-inversion" => PlantedMethods.TextualInversion,
                "lora" => PlantedMethods.Lora,
                "personalar" => PlantedMethods.PersonalAr,
                "personalar-full" => PlantedMethods.PersonalArFull,
                "personalar-lora" => PlantedMethods.PersonalArLora,
                "all" => PlantedMethods.All,
                _ => throw new ArgumentException(
                    $"'{name}' is none of coar, textual-inversion, lora, personalar, personalar-full, personalar-lora, all", nameof(PlantedConceptSettings.Methods)),
            };
        if (methods == PlantedMethods.None)
            throw new ArgumentException("name at least one method (coar, textual-inversion, lora, personalar, personalar-full, personalar-lora, all)",
                nameof(PlantedConceptSettings.Methods));
        return methods;
    }
}
