using System.Text.Json;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>One line of a --prompts JSONL file: a prompt and optional per-line overrides of the command's settings.</summary>
public sealed record JobLine(string Prompt, ulong? Seed, int? Count, string? Size, float? Cfg, int? TopK, float? Temperature)
{
    private static readonly string[] Fields = ["prompt", "seed", "count", "size", "cfg", "top_k", "temperature"];

    /// <summary>Reads a JSONL file; blank lines are skipped; errors name the file, line and field.</summary>
    public static List<JobLine> ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"--prompts '{path}': no such file", path);
        var lines = new List<JobLine>();
        int number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            lines.Add(Parse(raw, $"{path}:{number}"));
        }
        if (lines.Count == 0)
            throw new InvalidDataException($"{path}: no prompts (expected one JSON object per line, e.g. {{\"prompt\": \"a red apple\"}})");
        return lines;
    }

    public static JobLine Parse(string json, string where)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where}: not a JSON object: {e.Message}");
        }
        using (doc)
        {
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{where}: expected a JSON object like {{\"prompt\": \"...\"}}, found {o.ValueKind}");
            foreach (var p in o.EnumerateObject())
                if (Array.IndexOf(Fields, p.Name) < 0)
                    throw new InvalidDataException($"{where}: unknown field '{p.Name}' (known: {string.Join(", ", Fields)})");
            if (!o.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(prompt.GetString()))
                throw new InvalidDataException($"{where}: field 'prompt' must be a non-empty string");
            return new JobLine(prompt.GetString()!,
                Number<ulong>(o, "seed", where, e => e.TryGetUInt64(out var v) ? v : null),
                Number<int>(o, "count", where, e => e.TryGetInt32(out var v) && v > 0 ? v : null),
                o.TryGetProperty("size", out var size) ? size.ValueKind switch
                {
                    JsonValueKind.String => size.GetString(),
                    JsonValueKind.Number => size.GetRawText(),
                    _ => throw new InvalidDataException($"{where}: field 'size' must be like \"768\" or \"1024x512\""),
                } : null,
                Number<float>(o, "cfg", where, e => e.TryGetSingle(out var v) && v >= 0 ? v : null),
                Number<int>(o, "top_k", where, e => e.TryGetInt32(out var v) && v >= 0 ? v : null),
                Number<float>(o, "temperature", where, e => e.TryGetSingle(out var v) && v > 0 ? v : null));
        }
    }

    private static T? Number<T>(JsonElement o, string name, string where, Func<JsonElement, T?> read) where T : struct
    {
        if (!o.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || read(e) is not { } value)
            throw new InvalidDataException($"{where}: field '{name}' has an invalid value {e.GetRawText()}");
        return value;
    }
}
