using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Training;

/// <summary>Where a training job keeps its files.</summary>
/// <param name="WorkDirectory">Holds the cached class images (class-images/...).</param>
public sealed record TrainingOutputs(string WorkDirectory)
{
    /// <summary>
    /// The concept file written at the end (for <see cref="TrainingMethod.Lora"/>, the PEFT adapter directory; for
    /// PersonalAR stage 2, the directory of the concept and the trained weights); null: the caller keeps what was trained.
    /// </summary>
    public string? ConceptPath { get; init; }

    /// <summary>Resumable checkpoints every <see cref="TrainingSettings.CheckpointEvery"/> steps, resumed from when present; null: none.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Start over even when a checkpoint of this run exists.</summary>
    public bool Restart { get; init; }

    /// <summary>Where validation images go (step-00100.png) when <see cref="TrainingSettings.ValidateEvery"/> is set.</summary>
    public string? ValidationDirectory { get; init; }
}

/// <summary>
/// The one way a concept (or a LoRA adapter) is trained from image files, shared by `coar train` and
/// <see cref="CoarEngine.TrainConcept"/> / <see cref="CoarEngine.TrainLora"/>:
/// the settings are checked against the loaded model before anything expensive (a default depth deeper than the model
/// is clamped with a note; an explicit one is a <see cref="TrainingSettingException"/>), every effective setting is
/// logged, the photos are read, the class images made or reused, then the trainer resumes or initializes, trains with
/// checkpoints and validation images, and the concept is written.
/// </summary>
public sealed class TrainingJob : IDisposable
{
    private readonly CoarEngine _engine;
    private readonly TrainingOutputs _outputs;
    private readonly IProgress<string>? _log;

    private TrainingJob(CoarEngine engine, ConceptTrainer trainer, TrainingOutputs outputs, IProgress<string>? log)
    {
        _engine = engine;
        Trainer = trainer;
        _outputs = outputs;
        _log = log;
    }

    public ConceptTrainer Trainer { get; }

    /// <summary>The settings the job runs with (depth and resolution made concrete for the model).</summary>
    public TrainingSettings Settings => Trainer.Settings;

    /// <summary>The step the run started from (non-zero after a resume).</summary>
    public int StartStep { get; private set; }

    /// <param name="start">A concept to continue from instead of initializing one (PersonalAR stage 2: stage 1's [V]).</param>
    public static TrainingJob Prepare(CoarEngine engine, TrainingSettings settings, IReadOnlyList<string> imageFiles, TrainingOutputs outputs,
        IProgress<string>? log = null, CancellationToken cancellation = default, Concept? start = null)
    {
        var (s, notes) = settings.Resolve(engine.Model.Config, engine.Prompt);
        foreach (var note in notes) log?.Report("note: " + note);
        foreach (var line in s.Describe()) log?.Report(line);

        var ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        var photos = TrainingImages.FromFiles(imageFiles, s.Resolution!.Value, engine.Vqgan, ids, s.Crop, s.Seed);
        log?.Report($"{photos.Count} training image(s), {s.Resolution} px, {s.Crop.ToString().ToLowerInvariant()} crops");
        var references = (s.References ?? []).Select(file =>
            ReferenceImage.Encode(TrainingImages.Load(file), file, s.Resolution.Value, engine.Vqgan, ids)).ToList();
        if (references.Count > 0)
            log?.Report($"{references.Count} reference image(s) in the training prompt: " +
                        string.Join(", ", references.Select(r => $"{r.Source} ({r.Layout.WidthPx}x{r.Layout.HeightPx}, {r.Tokens.Length} tokens)")));
        List<TrainingExample> classImages = [];
        if (s.Dpp)
        {
            var key = ClassImageKey(engine, s);
            string cacheDir = TrainingData.ClassImageDirectory(outputs.WorkDirectory, s.ClassNoun, key);
            classImages = TrainingData.ClassImages(engine, key, s.ClassImages, cacheDir, log, cancellation);
        }
        var trainer = new ConceptTrainer(engine, s, photos, classImages, references, start);
        log?.Report(trainer.MemoryPlan.ToString());
        return new TrainingJob(engine, trainer, outputs, log);
    }

    /// <summary>What identifies the class images of these settings on this engine (see <see cref="TrainingData.ClassImageKey"/>).</summary>
    public static TrainingData.ClassImageKey ClassImageKey(CoarEngine engine, TrainingSettings s) =>
        new(s.ClassPrompt, TrainingData.ClassImageSampling, engine.Fingerprint, engine.Backend.Kind.ToString().ToLowerInvariant(),
            s.Resolution ?? engine.Prompt.TargetSize, s.Seed);

    /// <summary>
    /// Resumes from the checkpoint (one of another run is an <see cref="InvalidDataException"/>, unless
    /// <see cref="TrainingOutputs.Restart"/>) or initializes, trains to the last step, writes the concept; returns it.
    /// </summary>
    public Concept Run(IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (!Trainer.HasConcept) throw new InvalidOperationException("a LoRA run trains no concept: use RunLora");
        Train(progress, cancellation);
        return Trainer.Concept.Clone();
    }

    /// <summary><see cref="Run"/> for <see cref="TrainingMethod.Lora"/>: trains and writes the adapter; returns it.</summary>
    public Lora.LoraAdapter RunLora(IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        if (Trainer.Lora is not { } lora) throw new InvalidOperationException($"a {Settings.Method} run trains no LoRA adapter: use Run");
        Train(progress, cancellation);
        return lora;
    }

    /// <summary>The run itself, whatever the method: resume or initialize, the steps, checkpoints, validation images, the output.</summary>
    public void Train(IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        var s = Settings;
        string? checkpoint = _outputs.CheckpointPath;
        // A run killed while writing leaves its temp files; they are never finished outputs.
        if (checkpoint is not null) AtomicFile.RemoveStaleTemporaries(checkpoint);
        if (_outputs.ConceptPath is { } output)
        {
            // A weights run writes a directory: its files are what a killed run may have left half-written.
            string[] files = Trainer.Weights is null ? [output]
                : [Path.Combine(output, PersonalArJob.ConceptFileName), Path.Combine(output, Lora.PeftAdapterFile.WeightsFileName),
                   Path.Combine(output, Lora.PeftAdapterFile.ConfigFileName), Path.Combine(output, FineTuning.FineTunedProjections.FileName)];
            foreach (var file in files) AtomicFile.RemoveStaleTemporaries(file);
        }
        if (checkpoint is not null && !_outputs.Restart && File.Exists(checkpoint))
            _log?.Report($"resuming from step {Trainer.Resume(checkpoint)} ({checkpoint})");
        else
            Trainer.Initialize();
        StartStep = Trainer.Step;

        Trainer.Train(s.Steps, progress, cancellation, step =>
        {
            if (checkpoint is not null && s.CheckpointEvery > 0 && step % s.CheckpointEvery == 0 && step < s.Steps)
                Trainer.SaveCheckpoint(checkpoint);
            if (_outputs.ValidationDirectory is not null && s.ValidateEvery > 0 && step % s.ValidateEvery == 0)
                Validate(step);
        });
        if (_outputs.ConceptPath is not null) Trainer.SaveConcept(_outputs.ConceptPath);
        if (checkpoint is not null && File.Exists(checkpoint)) File.Delete(checkpoint);
    }

    /// <summary>
    /// A validation image with the concept as it is now (trained weights are on the model; plain LoRA's prompt carries
    /// the identifier as text): ValidationDirectory/step-00100.png.
    /// </summary>
    private void Validate(int step)
    {
        var s = Settings;
        int size = s.Resolution!.Value;
        var prompt = new ImagePrompt(s.ValidationPrompt ?? s.SubjectPrompt, size, size, (ulong)s.Seed, TrainingData.ClassImageSampling)
        {
            Concepts = Trainer.HasConcept ? [Trainer.Concept.Clone()] : [],
            References = Trainer.References.Select(r => r with { Owner = Trainer.HasConcept ? s.Placeholder : null }).ToList(),
        };
        var image = _engine.Generate([prompt])[0];
        ImageFile.SavePng(image.Image, Path.Combine(_outputs.ValidationDirectory!, $"step-{step:D5}.png"));
    }

    public void Dispose() => Trainer.Dispose();
}
