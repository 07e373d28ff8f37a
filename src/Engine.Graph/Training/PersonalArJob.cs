using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Graph.Training;

/// <summary>What a PersonalAR run trained: stage 1's [V], and stage 2's [V] with its LoRA adapter or weight changes.</summary>
/// <param name="Directory">Where the outputs were written (null: nowhere).</param>
/// <param name="Parameters">Stage 2's trainable parameters (the embedding and the weights).</param>
/// <param name="StepsRun">Stage 2's steps run in this call (fewer after a resume).</param>
public sealed record PersonalArResult(Concept Stage1Concept, Concept Concept, LoraAdapter? Lora, WeightDeltas? Deltas, int Parameters, string? Directory,
    StepLosses FinalLosses, int Steps, int StepsRun);

/// <summary>
/// PersonalAR as one job: stage 1 (textual inversion) through <see cref="TrainingJob"/>, then stage 2 through another,
/// continuing stage 1's concept (<see cref="TrainingJob.Prepare"/>'s start). With an output directory every stage is
/// resumable: stage 1's concept (<see cref="Stage1FileName"/>) is reused when it belongs to this run's stage 1, each
/// stage checkpoints beside it, and the final outputs are <see cref="ConceptFileName"/> and the trained weights
/// (PEFT's adapter files, or <see cref="FineTunedProjections.FileName"/>), each recording both stages' settings.
/// </summary>
public static class PersonalArJob
{
    public const string Stage1FileName = "stage1.safetensors";
    public const string ConceptFileName = "concept.safetensors";

    /// <param name="outputDirectory">Null: nothing is written, the result holds what was trained.</param>
    /// <param name="workDirectory">Holds validation images when no output directory is given.</param>
    public static PersonalArResult Run(CoarEngine engine, PersonalArSettings settings, IReadOnlyList<string> imageFiles, string? outputDirectory,
        string workDirectory, bool restart = false, IProgress<string>? log = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        settings.Validate();
        var (stage1, _) = settings.Stage1.Resolve(engine.Model.Config, engine.Prompt);
        var (stage2, _) = settings.Stage2.Resolve(engine.Model.Config, engine.Prompt);
        string? Output(string name) => outputDirectory is null ? null : Path.Combine(outputDirectory, name);
        string validation = outputDirectory ?? workDirectory;
        if (outputDirectory is not null) Directory.CreateDirectory(outputDirectory);

        Concept? first = restart ? null : Reusable(Output(Stage1FileName), engine.Fingerprint, stage1.ToJson(), log);
        if (first is null)
        {
            log?.Report("PersonalAR stage 1: textual inversion of the " + stage1.Placeholder + " embedding");
            var outputs = new TrainingOutputs(workDirectory)
            {
                ConceptPath = Output(Stage1FileName), CheckpointPath = Output("stage1.checkpoint.safetensors"), Restart = restart,
                ValidationDirectory = Path.Combine(validation, "validation-stage1"),
            };
            using var job = TrainingJob.Prepare(engine, settings.Stage1, imageFiles, outputs, log, cancellation);
            first = job.Run(progress, cancellation);
        }

        log?.Report("PersonalAR stage 2: the " + stage2.Placeholder + " embedding and " +
                    (stage2.Weights == WeightTraining.Full ? "the full weights" : "LoRA adapters") + " of " +
                    string.Join(", ", stage2.LoraProjections.Select(p => p.ModuleName())) + " in every layer");
        var second = new TrainingOutputs(workDirectory)
        {
            ConceptPath = outputDirectory, CheckpointPath = Output("stage2.checkpoint.safetensors"), Restart = restart,
            ValidationDirectory = Path.Combine(validation, "validation-stage2"),
        };
        using var stage2Job = TrainingJob.Prepare(engine, settings.Stage2, imageFiles, second, log, cancellation, start: first);
        stage2Job.Trainer.AdditionalRecord = new Dictionary<string, string>
        {
            ["personalar_stage1_settings"] = stage1.ToJson(),
            ["personalar_stage1"] = outputDirectory is null ? "" : Stage1FileName,
        };
        stage2Job.Train(progress, cancellation);
        var trainer = stage2Job.Trainer;
        var deltas = (trainer.Weights as TrainedWeights.Full)?.Deltas;
        return new PersonalArResult(first, trainer.Concept.Clone(), trainer.Lora, deltas, trainer.Parameters, outputDirectory,
            trainer.LastLosses, trainer.Step, trainer.Step - stage2Job.StartStep);
    }

    /// <summary>Stage 1's concept from an earlier run of the same stage-1 settings, or null (none there); one of other settings is an error.</summary>
    private static Concept? Reusable(string? path, string baseModel, string settingsJson, IProgress<string>? log)
    {
        if (path is null) return null;
        AtomicFile.RemoveStaleTemporaries(path);
        if (!File.Exists(path)) return null;
        ConceptFile.Info info;
        try
        {
            info = ConceptFile.Load(path, baseModel);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or Managed.SafeTensors.SafeTensorsException)
        {
            throw new InvalidDataException($"{path}: stage 1's concept of an earlier run cannot be reused: {e.Message}. Pass --restart to train both stages again");
        }
        string? stored = info.Metadata.GetValueOrDefault("training_settings");
        if (stored != settingsJson)
            throw new InvalidDataException($"{path}: stage 1's concept of an earlier run has other settings ({TrainingCheckpoint.SettingsDifference(stored, settingsJson)}). " +
                                           "Pass --restart to train both stages again (it will be replaced), or give another --out");
        log?.Report($"PersonalAR stage 1: done in an earlier run, continuing from {path}");
        return info.Concept;
    }
}
