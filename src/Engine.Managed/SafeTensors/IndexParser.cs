using System.Text.Json;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>A sharded checkpoint's index: its "metadata" (values as text) and its weight_map in file order.</summary>
internal sealed record ParsedIndex(IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<KeyValuePair<string, string>> WeightMap);

/// <summary>Reads model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: shard file name}}.</summary>
internal static class IndexParser
{
    public static ParsedIndex Read(string indexPath)
    {
        ReadOnlySpan<byte> json;
        try
        {
            json = Files.InputFile.ReadAllBytes(indexPath, HeaderParser.MaxHeaderBytes, "checkpoint index");
        }
        catch (InvalidDataException e)
        {
            throw new SafeTensorsException(SafeTensorsError.InvalidIndex, indexPath, null, e.Message, e);
        }
        if (json.StartsWith("\uFEFF"u8))
            json = json[3..];
        try
        {
            return Parse(json, indexPath);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new SafeTensorsException(SafeTensorsError.InvalidIndex, indexPath, null,
                $"the index is not valid JSON: {e.Message}", e);
        }
    }

    private static ParsedIndex Parse(ReadOnlySpan<byte> json, string indexPath)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw Invalid(indexPath, null, $"the index must be a JSON object, found {reader.TokenType}");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        List<KeyValuePair<string, string>>? weightMap = null;
        bool sawMetadata = false;
        while (JsonReading.Next(ref reader) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            JsonReading.Next(ref reader);
            if (key == "metadata")
            {
                if (sawMetadata)
                    throw Invalid(indexPath, null, "\"metadata\" appears twice");
                sawMetadata = true;
                ReadMetadata(ref reader, indexPath, metadata);
            }
            else if (key == "weight_map")
            {
                if (weightMap is not null)
                    throw Invalid(indexPath, null, "\"weight_map\" appears twice");
                weightMap = ReadWeightMap(ref reader, indexPath);
            }
            else
            {
                reader.Skip();
            }
        }
        if (weightMap is null)
            throw Invalid(indexPath, null, "the index has no \"weight_map\" object");
        return new ParsedIndex(metadata, weightMap);
    }

    /// <summary>HF indexes hold numbers here ("total_size"); non-string values keep their JSON text.</summary>
    private static void ReadMetadata(ref Utf8JsonReader reader, string indexPath, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Invalid(indexPath, null, $"\"metadata\" must be an object, found {reader.TokenType}");
        while (JsonReading.Next(ref reader) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            JsonReading.Next(ref reader);
            string value = reader.TokenType == JsonTokenType.String
                ? reader.GetString()!
                : JsonElement.ParseValue(ref reader).GetRawText();
            if (!metadata.TryAdd(key, value))
                throw Invalid(indexPath, null, $"\"metadata\" has the key '{key}' twice");
        }
    }

    private static List<KeyValuePair<string, string>> ReadWeightMap(ref Utf8JsonReader reader, string indexPath)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Invalid(indexPath, null, $"\"weight_map\" must be an object of tensor name -> shard file, found {reader.TokenType}");
        var map = new List<KeyValuePair<string, string>>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        while (JsonReading.Next(ref reader) != JsonTokenType.EndObject)
        {
            string tensor = reader.GetString()!;
            if (JsonReading.Next(ref reader) != JsonTokenType.String)
                throw Invalid(indexPath, tensor, $"its \"weight_map\" entry must be a shard file name, found {reader.TokenType}");
            string shard = reader.GetString()!;
            // Shards sit beside the index: a path here could point anywhere on disk.
            if (shard.Length == 0 || shard is "." or ".." || Path.GetFileName(shard) != shard || shard.Contains('\\'))
                throw Invalid(indexPath, tensor, $"its shard '{shard}' must be a plain file name in the index's directory");
            if (!names.Add(tensor))
                throw new SafeTensorsException(SafeTensorsError.DuplicateTensor, indexPath, tensor,
                    "\"weight_map\" lists this tensor twice");
            map.Add(new(tensor, shard));
        }
        return map;
    }

    private static SafeTensorsException Invalid(string indexPath, string? tensor, string detail) =>
        new(SafeTensorsError.InvalidIndex, indexPath, tensor, detail);
}
