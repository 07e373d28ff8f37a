using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Managed.SafeTensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// A resumable training state on disk: a concept file (written atomically) whose metadata adds the step and the run's
/// settings, and whose extra tensors hold AdamW's moments and the CASR mean. Reading one checks that it belongs to the
/// run resuming it; one that cannot be read or belongs to another run is never dropped silently.
/// </summary>
public sealed record TrainingCheckpoint(Concept Concept, int Step, float[] AdamM, float[] AdamV, float[] CasrMean)
{
    public static void Write(string path, Concept concept, string baseModel, int step, string settingsJson, float[] adamM, float[] adamV,
        float[] casrMean) =>
        ConceptFile.Save(path, concept, baseModel,
            new Dictionary<string, string>
            {
                ["checkpoint_step"] = step.ToString(CultureInfo.InvariantCulture),
                ["training_settings"] = settingsJson,
                ["casr_mean_set"] = "true",
            },
            new Dictionary<string, float[]> { ["adam.m"] = adamM, ["adam.v"] = adamV, ["casr.mean"] = casrMean });

    /// <summary>
    /// Reads the checkpoint of the run described by <paramref name="settingsJson"/>, whose concept has the shapes of
    /// <paramref name="like"/>. Anything else is an <see cref="InvalidDataException"/> saying what differs and that
    /// --restart starts over.
    /// </summary>
    public static TrainingCheckpoint Read(string path, string baseModel, string settingsJson, int maxStep, Concept like, int adamLength,
        int casrLength)
    {
        ConceptFile.Info info;
        Dictionary<string, float[]> extra;
        try
        {
            info = ConceptFile.Load(path, baseModel, out extra);
        }
        catch (Exception e) when (e is InvalidDataException or SafeTensorsException or IOException)
        {
            throw NotResumable(path, $"it cannot be read ({e.Message})");
        }
        string? stored = info.Metadata.GetValueOrDefault("training_settings");
        if (stored != settingsJson)
            throw NotResumable(path, $"it belongs to a run with other settings ({SettingsDifference(stored, settingsJson)})");
        if (!info.Metadata.TryGetValue("checkpoint_step", out var stepText)
            || !int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out int step) || step > maxStep)
            throw NotResumable(path, "it has no valid checkpoint_step: it is not a training checkpoint of this run");
        foreach (var (key, length) in new[] { ("adam.m", adamLength), ("adam.v", adamLength), ("casr.mean", casrLength) })
            if (!extra.TryGetValue(key, out var values) || values.Length != length)
                throw NotResumable(path, $"its '{key}' is missing or has the wrong size: it is not a checkpoint of this run");
        var c = info.Concept;
        if (c.Text.Length != like.Text.Length || c.Image.Length != like.Image.Length || c.Parameters != like.Parameters)
            throw NotResumable(path, "its context tokens have other shapes than this run's");
        return new TrainingCheckpoint(c, step, extra["adam.m"], extra["adam.v"], extra["casr.mean"]);
    }

    internal static InvalidDataException NotResumable(string path, string why) =>
        new($"{path}: this training checkpoint cannot be resumed: {why}. Pass --restart to start over (it will be replaced), or delete it");

    /// <summary>The first setting that differs between two settings JSON objects, for the error message.</summary>
    internal static string SettingsDifference(string? stored, string current)
    {
        if (stored is null)
            return "it records no settings";
        try
        {
            var strict = new JsonDocumentOptions { AllowDuplicateProperties = false };
            if (JsonNode.Parse(stored, documentOptions: strict) is not JsonObject before || JsonNode.Parse(current) is not JsonObject now)
                return "its settings are unreadable";
            foreach (var (key, value) in now)
            {
                // A null setting is a JSON null on both sides, not an absent one.
                string was = before.TryGetPropertyValue(key, out var old) ? old?.ToJsonString() ?? "null" : "(absent)", isNow = value?.ToJsonString() ?? "null";
                if (was != isNow)
                    return $"{key} was {was}, now {isNow}";
            }
            return "they differ";
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return "its settings are unreadable";
        }
    }
}
