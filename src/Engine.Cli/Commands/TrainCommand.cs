using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.Imaging;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar train`: learn a subject or style as per-layer context tokens through the frozen model.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var images = new Option<string>("--images", "-i") { Description = "Folder of photos of the subject (3-5), or the style's reference image", Required = true };
        var classNoun = new Option<string?>("--class") { Description = "The subject's class noun, e.g. dog (required for subjects; a style's name for styles)" };
        var kind = new Option<string>("--kind") { Description = "subject or style", DefaultValueFactory = _ => "subject" };
        kind.AcceptOnlyFromAmong("subject", "style");
        var placeholder = new Option<string?>("--placeholder") { Description = "Placeholder in prompts (default [V] for subjects, [S] for styles)" };
        var steps = new Option<int?>("--steps") { Description = "Optimizer steps (default 1000 for subjects, 600 for styles)" };
        var layers = new Option<int?>("--layers") { Description = "Injection depth N: the first N layers get context tokens (default 9 subject, 3 style)" };
        var lr = new Option<float>("--lr") { Description = "Learning rate (AdamW)", DefaultValueFactory = _ => 1e-2f };
        var resolution = new Option<int>("--resolution") { Description = "Training resolution in pixels (the model's: 512, 768 or 1024)", DefaultValueFactory = _ => 768 };
        var noDpp = new Option<bool>("--no-dpp") { Description = "No dual prior preservation (no class images)" };
        var noCasr = new Option<bool>("--no-casr") { Description = "No context-aware self-regularization" };
        var classImages = new Option<int>("--class-images") { Description = "Class images for DPP, generated once by the frozen model and cached", DefaultValueFactory = _ => 8 };
        var accumulation = new Option<int>("--accumulate") { Description = "Passes per optimizer step (gradient accumulation)", DefaultValueFactory = _ => 1 };
        var randomCrops = new Option<int>("--random-crops") { Description = "Random-offset crops per photo as augmentation (0: center crop)", DefaultValueFactory = _ => 0 };
        var validateEvery = new Option<int>("--validate-every") { Description = "Render a validation image every K steps (0: never)", DefaultValueFactory = _ => 0 };
        var validationPrompt = new Option<string?>("--validation-prompt") { Description = "Prompt of the validation images (default: the training prompt)" };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Write a resumable checkpoint every K steps", DefaultValueFactory = _ => 100 };
        var restart = new Option<bool>("--restart") { Description = "Start over, replacing an existing checkpoint (one of another run is otherwise an error)" };
        var seed = new Option<int>("--seed") { Description = "Seed of the class images, crops and validation images", DefaultValueFactory = _ => 0 };
        var device = DeviceOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var output = new Option<string>("--out", "-o") { Description = "The concept file to write (.safetensors)", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };

        var cmd = new Command("train", "Train a CoAR concept (subject or style): context tokens learned through the frozen model.");
        foreach (var o in new Option[] { model, images, classNoun, kind, placeholder, steps, layers, lr, resolution, noDpp, noCasr, classImages,
                     accumulation, randomCrops, validateEvery, validationPrompt, checkpointEvery, restart, seed, device, vqgan, output, json })
            cmd.Options.Add(o);
        cmd.SetAction((parse, cancellation) => CommandRunner.RunAsync(parse, async ct =>
        {
            bool style = parse.GetValue(kind) == "style";
            string? noun = parse.GetValue(classNoun);
            if (!style && string.IsNullOrWhiteSpace(noun))
                throw new UsageException("--class is required for a subject (the class noun, e.g. --class dog)");
            var settings = (style ? TrainingSettings.ForStyle(noun ?? "style") : new TrainingSettings { ClassNoun = noun! }) with
            {
                LearningRate = parse.GetValue(lr),
                Resolution = parse.GetValue(resolution),
                ClassImages = parse.GetValue(classImages),
                Accumulation = parse.GetValue(accumulation),
                RandomCrops = parse.GetValue(randomCrops),
                Seed = parse.GetValue(seed),
                CheckpointEvery = parse.GetValue(checkpointEvery),
                ValidateEvery = parse.GetValue(validateEvery),
                ValidationPrompt = parse.GetValue(validationPrompt),
            };
            if (parse.GetValue(placeholder) is { } p) settings = settings with { Placeholder = p };
            if (parse.GetValue(steps) is { } n) settings = settings with { Steps = n };
            if (parse.GetValue(layers) is { } l) settings = settings with { Depth = l };
            if (parse.GetValue(noDpp)) settings = settings with { Dpp = false };
            if (parse.GetValue(noCasr)) settings = settings with { Casr = false };
            try
            {
                settings.Validate();
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }
            var files = TrainingData.ImageFiles(parse.GetValue(images)!);
            string outPath = Path.GetFullPath(parse.GetValue(output)!);
            string dir = ModelOption.Resolve(parse.GetValue(model));
            var console = AnsiConsole.Console;

            // The checkpoint's resolution bounds the prompt's image area: train at 1024 on the 1024 model, and so on.
            int target = settings.Resolution is 512 or 768 or 1024 ? settings.Resolution : 768;
            using var engine = CoarEngine.Load(new EngineParams(dir, parse.GetValue(device)!, parse.GetValue(vqgan), target), cancellation: ct);
            DeviceOption.Report(engine.Device);
            var ids = engine.Prompt.Vocabulary.ToImageTokenIds();
            var subject = TrainingData.EncodePhotos(files, settings.Resolution, engine.Vqgan, ids, settings.RandomCrops, settings.Seed);
            console.MarkupLine($"{subject.Count} training image(s) from {files.Count} file(s), {settings.Resolution} px");
            List<TrainingExample> classSet = [];
            if (settings.Dpp)
            {
                string cacheDir = TrainingData.ClassImageDirectory(Path.GetDirectoryName(outPath)!, settings, engine.Fingerprint);
                classSet = TrainingData.ClassImages(engine, settings.ClassPrompt, settings.ClassImages, settings.Resolution, settings.Seed, cacheDir,
                    new ConsoleProgress<string>(m => console.MarkupLine(Markup.Escape(m))), ct);
            }

            ConceptTrainer trainer;
            try
            {
                trainer = new ConceptTrainer(engine, settings, subject, classSet);
            }
            catch (ArgumentException e)
            {
                // Settings that are valid in general but not for this model (e.g. more layers than it has).
                throw new UsageException(e.Message.Split(" (Parameter")[0]);
            }
            using var _ = trainer;
            console.MarkupLine(Markup.Escape(trainer.MemoryPlan.ToString()));
            string settingsJson = JsonSerializer.Serialize(settings);
            string checkpoint = Path.ChangeExtension(outPath, ".checkpoint.safetensors");
            // A run killed while writing leaves its temp files; they are never finished outputs.
            AtomicFile.RemoveStaleTemporaries(checkpoint);
            AtomicFile.RemoveStaleTemporaries(outPath);
            if (!parse.GetValue(restart) && File.Exists(checkpoint))
                console.MarkupLine($"resuming from step {trainer.Resume(checkpoint, settingsJson)} ({Markup.Escape(checkpoint)})");
            else
                trainer.Initialize();

            var clock = System.Diagnostics.Stopwatch.StartNew();
            int startStep = trainer.Step;
            await Task.Run(() => trainer.Train(settings.Steps, new ConsoleProgress<TrainingProgress>(pr => PrintStep(console, pr)), ct, step =>
            {
                if (settings.CheckpointEvery > 0 && step % settings.CheckpointEvery == 0 && step < settings.Steps)
                    trainer.SaveCheckpoint(checkpoint, settingsJson);
                if (settings.ValidateEvery > 0 && step % settings.ValidateEvery == 0)
                    Validate(engine, trainer.Concept, settings, outPath, step);
            }), ct);
            trainer.SaveConcept(outPath, settingsJson);
            if (File.Exists(checkpoint)) File.Delete(checkpoint);
            var summary = new TrainingSummary(outPath, trainer.Step, trainer.Step - startStep, clock.Elapsed.TotalSeconds,
                trainer.LastLosses.Ntp, trainer.LastLosses.Dpp, trainer.LastLosses.Casr, trainer.LastLosses.Total, trainer.Concept.Parameters, engine.Backend.Name);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(summary, CliJson.Options));
            else
                console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                    $"wrote {Markup.Escape(outPath)}: {summary.Parameters:N0} parameters, {summary.Steps} steps ({summary.StepsRun} this run) in {summary.Seconds:F1} s on {Markup.Escape(summary.Device)}, final loss {summary.Total:F4} (ntp {summary.Ntp:F4}, dpp {summary.Dpp:F4}, casr {summary.Casr:F6})"));
            return ExitCodes.Ok;
        }, cancellation));
        return cmd;
    }

    private static void PrintStep(IAnsiConsole console, TrainingProgress p)
    {
        var l = p.Losses;
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"step {p.Step,5}/{p.Steps}  loss {l.Total:F4}  ntp {l.Ntp:F4}  dpp {l.Dpp:F4}  casr {l.Casr:F6}  lr {p.LearningRate:G3}  {p.StepTime.TotalMilliseconds:F0} ms"));
    }

    /// <summary>A validation image with the concept as it is now, beside the output: NAME.validation/step-00100.png.</summary>
    private static void Validate(CoarEngine engine, Concept concept, TrainingSettings s, string outPath, int step)
    {
        string prompt = s.ValidationPrompt ?? s.SubjectPrompt;
        var image = engine.Generate([new ImagePrompt(prompt, s.Resolution, s.Resolution, (ulong)s.Seed, new SamplingSettings()) { Concepts = [concept.Clone()] }])[0];
        string dir = Path.ChangeExtension(outPath, ".validation");
        ImageFile.SavePng(image.Image, Path.Combine(dir, $"step-{step:D5}.png"));
    }
}

public sealed record TrainingSummary(string Concept, int Steps, int StepsRun, double Seconds, double Ntp, double Dpp, double Casr, double Total,
    int Parameters, string Device);
