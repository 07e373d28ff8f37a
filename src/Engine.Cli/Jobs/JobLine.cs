using System.Text.Json;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>One line of a --prompts JSONL file: a prompt and optional per-line overrides of the command's settings.</summary>
public sealed record JobLine(string Prompt, ulong? Seed, int? Count, string? Size, float? Cfg, int? TopK, float? Temperature)
{
    private static readonly string[] Fields = ["prompt", "seed", "count", "size", "cfg", "top_k", "temperature", "images", "instruction"];

    /// <summary>
    /// The line's reference images (its "images": a path or a list of paths, relative ones taken from the prompts file's
    /// folder), in place of the command's --image; null: the command's. Left out of the job's hash when null, so the
    /// hash of a job without images is what it always was.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string[]? Images { get; init; }

    /// <summary>The line's "instruction" (false: the prompt is the whole human turn), in place of --no-instruction; null: the command's.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public bool? Instruction { get; init; }

    /// <summary>The most reference images one prompt may hold (each is a few thousand tokens of context).</summary>
    public const int MaxImagesPerLine = 16;

    /// <summary>The largest prompts file read.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>The longest line: room for the longest caption (LuminaPrompt.MaxCaptionCharacters) and every field.</summary>
    public const int MaxLineCharacters = 64 * 1024;

    /// <summary>The most prompts one file may hold.</summary>
    public const int MaxLines = 100_000;

    /// <summary>The most copies one line may ask for.</summary>
    public const int MaxCountPerLine = 10_000;

    /// <summary>Reads a JSONL file; blank lines are skipped; errors name the file, line and field.</summary>
    public static List<JobLine> ReadFile(string path)
    {
        string text = InputFile.ReadAllText(path, MaxFileBytes, "--prompts file");
        var lines = new List<JobLine>();
        int number = 0;
        using var reader = new StringReader(text);
        for (string? raw = reader.ReadLine(); raw is not null; raw = reader.ReadLine())
        {
            number++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            if (raw.Length > MaxLineCharacters)
                throw new InvalidDataException($"{path}:{number}: the line is {raw.Length} characters, more than the {MaxLineCharacters} accepted");
            if (lines.Count == MaxLines)
                throw new InvalidDataException($"{path}:{number}: more than {MaxLines} prompts in one file; split the job");
            lines.Add(Parse(raw, $"{path}:{number}", Path.GetDirectoryName(Path.GetFullPath(path))));
        }
        if (lines.Count == 0)
            throw new InvalidDataException($"{path}: no prompts (expected one JSON object per line, e.g. {{\"prompt\": \"a red apple\"}})");
        return lines;
    }

    /// <param name="baseDirectory">Where relative image paths are taken from; null: as given (the working directory).</param>
    public static JobLine Parse(string json, string where, string? baseDirectory = null)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16, AllowDuplicateProperties = false });
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
                if (Array.IndexOf(Fields, Text(() => p.Name, where, "a field name")) < 0)
                    throw new InvalidDataException($"{where}: unknown field '{p.Name}' (known: {string.Join(", ", Fields)})");
            if (!o.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String
                || Text(prompt.GetString, where, "field 'prompt'") is not { } text || string.IsNullOrWhiteSpace(text))
                throw new InvalidDataException($"{where}: field 'prompt' must be a non-empty string");
            return new JobLine(text,
                Number<ulong>(o, "seed", where, e => e.TryGetUInt64(out var v) ? v : null),
                Number<int>(o, "count", where, e => e.TryGetInt32(out var v) && v is > 0 and <= MaxCountPerLine ? v : null),
                o.TryGetProperty("size", out var size) ? size.ValueKind switch
                {
                    JsonValueKind.String => Text(size.GetString, where, "field 'size'"),
                    JsonValueKind.Number => size.GetRawText(),
                    _ => throw new InvalidDataException($"{where}: field 'size' must be like \"768\" or \"1024x512\""),
                } : null,
                Number<float>(o, "cfg", where, e => e.TryGetSingle(out var v) && float.IsFinite(v) && v >= 0 ? v : null),
                Number<int>(o, "top_k", where, e => e.TryGetInt32(out var v) && v >= 0 ? v : null),
                Number<float>(o, "temperature", where, e => e.TryGetSingle(out var v) && float.IsFinite(v) && v > 0 ? v : null))
            {
                Images = o.TryGetProperty("images", out var images) ? ImagePaths(images, where, baseDirectory) : null,
                Instruction = o.TryGetProperty("instruction", out var instruction) ? instruction.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new InvalidDataException($"{where}: field 'instruction' must be true or false"),
                } : null,
            };
        }
    }

    private static string[] ImagePaths(JsonElement images, string where, string? baseDirectory)
    {
        var items = images.ValueKind switch
        {
            JsonValueKind.String => [images],
            JsonValueKind.Array => images.EnumerateArray().ToArray(),
            _ => throw new InvalidDataException($"{where}: field 'images' must be a path or a list of paths to image files"),
        };
        if (items.Length > MaxImagesPerLine)
            throw new InvalidDataException($"{where}: field 'images' lists {items.Length} images, more than the {MaxImagesPerLine} one prompt may hold");
        return items.Select(item =>
        {
            if (item.ValueKind != JsonValueKind.String || Text(item.GetString, where, "field 'images'") is not { Length: > 0 } path)
                throw new InvalidDataException($"{where}: field 'images' must hold non-empty path strings");
            return baseDirectory is null ? path : Path.Combine(baseDirectory, path);
        }).ToArray();
    }

    /// <summary>A JSON string as text; a lone UTF-16 surrogate escape (not text) is an error naming the line.</summary>
    private static string? Text(Func<string?> read, string where, string what)
    {
        try
        {
            return read();
        }
        catch (InvalidOperationException)
        {
            throw new InvalidDataException($"{where}: {what} holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text");
        }
    }

    private static T? Number<T>(JsonElement o, string name, string where, Func<JsonElement, T?> read) where T : struct
    {
        if (!o.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || read(e) is not { } value)
        {
            string raw = e.GetRawText();
            throw new InvalidDataException($"{where}: field '{name}' has an invalid value {(raw.Length > 40 ? raw[..40] + "..." : raw)}"
                                           + (name == "count" ? $" (expected 1 to {MaxCountPerLine})" : ""));
        }
        return value;
    }
}
