using System.Globalization;
using System.Runtime.InteropServices;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// A resumable training state of a run that trains backbone weights (LoRA, PersonalAR stage 2): one safetensors file
/// (written atomically) with the trained values in the optimizer's layout and AdamW's moments, each split into chunks
/// of at most <see cref="ChunkElements"/> ("values.0", "adam.m.0", ...: full q/k/v fine-tuning of a 7B model is 1.6G
/// values, more than one tensor span holds), and metadata naming the format, base model, step and the run's settings.
/// Reading one checks that it belongs to the run resuming it, as <see cref="TrainingCheckpoint"/> does for concepts.
/// </summary>
public static class ParameterCheckpoint
{
    public const string FormatVersion = "coar-parameter-checkpoint/1";

    /// <summary>The most values in one tensor of the file (256M F32 values, 1 GiB).</summary>
    public const int ChunkElements = 1 << 28;

    /// <param name="chunkElements">The most values per tensor (<see cref="ChunkElements"/>; smaller in tests).</param>
    public static void Write(string path, float[] values, string baseModel, int step, string settingsJson, float[] adamM, float[] adamV,
        int chunkElements = ChunkElements)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkElements, 1);
        var writer = new SafeTensorsWriter(new Dictionary<string, string>
        {
            ["format"] = FormatVersion,
            ["base_model"] = baseModel,
            ["checkpoint_step"] = step.ToString(CultureInfo.InvariantCulture),
            ["training_settings"] = settingsJson,
            ["parameters"] = values.Length.ToString(CultureInfo.InvariantCulture),
        });
        foreach (var (name, vector) in new[] { ("values", values), ("adam.m", adamM), ("adam.v", adamV) })
            for (int chunk = 0, at = 0; at < vector.Length || chunk == 0; chunk++, at += chunkElements)
            {
                int start = at, length = Math.Min(chunkElements, vector.Length - at);
                // Streamed: the vectors are not copied (a 7B fine-tuning state is tens of GB).
                writer.AddStreamed($"{name}.{chunk}", DType.F32, [length],
                    stream => stream.Write(MemoryMarshal.AsBytes(vector.AsSpan(start, length))));
            }
        writer.WriteTo(path);
    }

    /// <summary>The values, AdamW's moments and the step of the checkpoint of this run (else an error offering --restart).</summary>
    public static (float[] Values, float[] AdamM, float[] AdamV, int Step) Read(string path, string baseModel, string settingsJson, int maxStep, int parameters)
    {
        try
        {
            using var file = SafeTensorsFile.Open(path);
            var meta = file.Metadata;
            if (meta.GetValueOrDefault("format") != FormatVersion)
                throw TrainingCheckpoint.NotResumable(path, $"it is not a weight-training checkpoint (format '{meta.GetValueOrDefault("format")}')");
            if (meta.GetValueOrDefault("base_model") != baseModel)
                throw TrainingCheckpoint.NotResumable(path, $"it was made on base model {meta.GetValueOrDefault("base_model")}, not the loaded {baseModel}");
            string? stored = meta.GetValueOrDefault("training_settings");
            if (stored != settingsJson)
                throw TrainingCheckpoint.NotResumable(path, $"it belongs to a run with other settings ({TrainingCheckpoint.SettingsDifference(stored, settingsJson)})");
            if (!int.TryParse(meta.GetValueOrDefault("checkpoint_step"), NumberStyles.None, CultureInfo.InvariantCulture, out int step) || step > maxStep)
                throw TrainingCheckpoint.NotResumable(path, "it has no valid checkpoint_step");
            // The chunks are read as they were written (their sizes from the file); together they must be this run's size.
            float[] Vector(string name)
            {
                var v = new float[parameters];
                int at = 0, chunk = 0;
                for (; at < parameters || chunk == 0; chunk++)
                {
                    if (!file.TryGetTensor($"{name}.{chunk}", out var t) || t.DType != DType.F32 || t.ElementCount > parameters - at
                        || (t.ElementCount == 0 && parameters > 0))
                        throw TrainingCheckpoint.NotResumable(path, $"its '{name}.{chunk}' is missing or has the wrong size: it is not a checkpoint of this run " +
                            $"({parameters} trained values)");
                    file.CopyTo<float>(t, v.AsSpan(at, (int)t.ElementCount));
                    at += (int)t.ElementCount;
                }
                if (file.TryGetTensor($"{name}.{chunk}", out _))
                    throw TrainingCheckpoint.NotResumable(path, $"its '{name}' holds more than this run's {parameters} trained values");
                return v;
            }

            return (Vector("values"), Vector("adam.m"), Vector("adam.v"), step);
        }
        catch (Exception e) when (e is SafeTensorsException or IOException)
        {
            throw TrainingCheckpoint.NotResumable(path, $"it cannot be read ({e.Message})");
        }
    }
}
