using System.Globalization;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// A resumable LoRA training state: one safetensors file (written atomically) with the adapter's values in the
/// optimizer's layout ("lora"), AdamW's moments ("adam.m", "adam.v"), and metadata naming the format, base model,
/// step and the run's settings. Reading one checks that it belongs to the run resuming it, as
/// <see cref="TrainingCheckpoint"/> does for concepts.
/// </summary>
public static class LoraCheckpoint
{
    public const string FormatVersion = "coar-lora-checkpoint/1";

    public static void Write(string path, LoraAdapter adapter, string baseModel, int step, string settingsJson, float[] adamM, float[] adamV)
    {
        var values = new float[adapter.Parameters];
        adapter.CopyTo(values);
        var writer = new SafeTensorsWriter(new Dictionary<string, string>
        {
            ["format"] = FormatVersion,
            ["base_model"] = baseModel,
            ["checkpoint_step"] = step.ToString(CultureInfo.InvariantCulture),
            ["training_settings"] = settingsJson,
        });
        writer.Add<float>("lora", DType.F32, [values.Length], values);
        writer.Add<float>("adam.m", DType.F32, [adamM.Length], adamM);
        writer.Add<float>("adam.v", DType.F32, [adamV.Length], adamV);
        writer.WriteTo(path);
    }

    /// <summary>The adapter values, AdamW's moments and the step of the checkpoint of this run (else an error offering --restart).</summary>
    public static (float[] Values, float[] AdamM, float[] AdamV, int Step) Read(string path, string baseModel, string settingsJson, int maxStep, int parameters)
    {
        try
        {
            using var file = SafeTensorsFile.Open(path);
            var meta = file.Metadata;
            if (meta.GetValueOrDefault("format") != FormatVersion)
                throw TrainingCheckpoint.NotResumable(path, $"it is not a LoRA training checkpoint (format '{meta.GetValueOrDefault("format")}')");
            if (meta.GetValueOrDefault("base_model") != baseModel)
                throw TrainingCheckpoint.NotResumable(path, $"it was made on base model {meta.GetValueOrDefault("base_model")}, not the loaded {baseModel}");
            string? stored = meta.GetValueOrDefault("training_settings");
            if (stored != settingsJson)
                throw TrainingCheckpoint.NotResumable(path, $"it belongs to a run with other settings ({TrainingCheckpoint.SettingsDifference(stored, settingsJson)})");
            if (!int.TryParse(meta.GetValueOrDefault("checkpoint_step"), NumberStyles.None, CultureInfo.InvariantCulture, out int step) || step > maxStep)
                throw TrainingCheckpoint.NotResumable(path, "it has no valid checkpoint_step");
            float[] Vector(string name)
            {
                if (!file.TryGetTensor(name, out var t) || t.DType != DType.F32 || t.ElementCount != parameters)
                    throw TrainingCheckpoint.NotResumable(path, $"its '{name}' is missing or has the wrong size: it is not a checkpoint of this run");
                var v = new float[parameters];
                file.CopyTo<float>(t, v);
                return v;
            }
            return (Vector("lora"), Vector("adam.m"), Vector("adam.v"), step);
        }
        catch (Exception e) when (e is SafeTensorsException or IOException)
        {
            throw TrainingCheckpoint.NotResumable(path, $"it cannot be read ({e.Message})");
        }
    }
}
