using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>The header of a safetensors file: its "__metadata__" and its tensors in header order.</summary>
internal sealed record ParsedHeader(IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<HeaderEntry> Entries);

/// <summary>
/// Parses and validates a safetensors header as the reference library does. Uses Utf8JsonReader rather than JsonDocument
/// because JsonDocument silently accepts duplicate keys.
/// </summary>
internal static class HeaderParser
{
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    private sealed record RawEntry(string Name, string DTypeName, long[] Shape, long Begin, long End);

    /// <param name="header">the N header bytes after the length prefix</param>
    /// <param name="fileLength">the whole file's length, to check that the data buffer covers it exactly</param>
    public static ParsedHeader Parse(ReadOnlySpan<byte> header, string filePath, long fileLength)
    {
        if (!Utf8.IsValid(header))
            throw new SafeTensorsException(SafeTensorsError.InvalidHeaderEncoding, filePath, null,
                $"the {header.Length}-byte JSON header is not valid UTF-8");
        if (header.IsEmpty || header[0] != (byte)'{')
            throw new SafeTensorsException(SafeTensorsError.HeaderNotObject, filePath, null,
                "the JSON header must start with '{', found " +
                (header.IsEmpty ? "an empty header" : $"'{Encoding.UTF8.GetString(header[..Math.Min(16, header.Length)])}'"));

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var raws = new List<RawEntry>();
        try
        {
            ReadObject(header, filePath, metadata, raws);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new SafeTensorsException(SafeTensorsError.InvalidJson, filePath, null,
                $"the header is not valid JSON: {e.Message}", e);
        }
        long dataLength = fileLength - sizeof(ulong) - header.Length;
        return new ParsedHeader(metadata, Validate(raws, filePath, sizeof(ulong) + header.Length, dataLength));
    }

    private static void ReadObject(ReadOnlySpan<byte> header, string filePath, Dictionary<string, string> metadata,
        List<RawEntry> raws)
    {
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        JsonReading.Next(ref reader);
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        while (JsonReading.Next(ref reader) != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            JsonReading.Next(ref reader);
            if (name == MetadataKey)
            {
                if (sawMetadata)
                    throw new SafeTensorsException(SafeTensorsError.InvalidMetadata, filePath, null,
                        $"\"{MetadataKey}\" appears twice in the header");
                sawMetadata = true;
                ReadMetadata(ref reader, filePath, metadata);
                continue;
            }
            if (!names.Add(name))
                throw new SafeTensorsException(SafeTensorsError.DuplicateTensor, filePath, name,
                    "the header declares this tensor twice");
            raws.Add(ReadEntry(ref reader, filePath, name));
        }
        // Only whitespace (the writer's space padding) may follow; the reader throws on anything else.
        if (reader.Read())
            throw new JsonException($"unexpected {reader.TokenType} after the header object");
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, string filePath, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafeTensorsException(SafeTensorsError.InvalidMetadata, filePath, null,
                $"\"{MetadataKey}\" must be an object of string values, found {reader.TokenType}");
        while (JsonReading.Next(ref reader) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            if (JsonReading.Next(ref reader) != JsonTokenType.String)
                throw new SafeTensorsException(SafeTensorsError.InvalidMetadata, filePath, null,
                    $"\"{MetadataKey}\" value of '{key}' must be a string, found {reader.TokenType}");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new SafeTensorsException(SafeTensorsError.InvalidMetadata, filePath, null,
                    $"\"{MetadataKey}\" has the key '{key}' twice");
        }
    }

    private static RawEntry ReadEntry(ref Utf8JsonReader reader, string filePath, string name)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafeTensorsException(SafeTensorsError.InvalidTensorEntry, filePath, name,
                $"expected an object with \"dtype\", \"shape\" and \"data_offsets\", found {reader.TokenType}");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        while (JsonReading.Next(ref reader) != JsonTokenType.EndObject)
        {
            string field = reader.GetString()!;
            JsonReading.Next(ref reader);
            switch (field)
            {
                case "dtype":
                    RejectRepeat(dtype is not null, filePath, name, field);
                    if (reader.TokenType != JsonTokenType.String)
                        throw new SafeTensorsException(SafeTensorsError.InvalidTensorEntry, filePath, name,
                            $"\"dtype\" must be a string, found {reader.TokenType}");
                    dtype = reader.GetString()!;
                    break;
                case "shape":
                    RejectRepeat(shape is not null, filePath, name, field);
                    shape = ReadIntegers(ref reader, filePath, name, field, SafeTensorsError.InvalidShape);
                    break;
                case "data_offsets":
                    RejectRepeat(offsets is not null, filePath, name, field);
                    offsets = ReadIntegers(ref reader, filePath, name, field, SafeTensorsError.InvalidOffsets);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw new SafeTensorsException(SafeTensorsError.InvalidTensorEntry, filePath, name,
                $"the entry lacks \"{(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}\"");
        if (!FormatDTypes.TryGetBits(dtype, out _))
            throw new SafeTensorsException(SafeTensorsError.UnknownDType, filePath, name,
                $"dtype '{dtype}' is not a safetensors dtype (expected one of {FormatDTypes.KnownNames})");
        if (offsets.Length != 2)
            throw new SafeTensorsException(SafeTensorsError.InvalidOffsets, filePath, name,
                $"\"data_offsets\" must be [begin, end], found {offsets.Length} numbers");
        return new RawEntry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static void RejectRepeat(bool seen, string filePath, string name, string field)
    {
        if (seen)
            throw new SafeTensorsException(SafeTensorsError.InvalidTensorEntry, filePath, name,
                $"the entry has \"{field}\" twice");
    }

    /// <summary>An array of non-negative 64-bit integers; a bad element is reported with <paramref name="elementError"/>.</summary>
    private static long[] ReadIntegers(ref Utf8JsonReader reader, string filePath, string name, string field,
        SafeTensorsError elementError)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafeTensorsException(SafeTensorsError.InvalidTensorEntry, filePath, name,
                $"\"{field}\" must be an array of integers, found {reader.TokenType}");
        var values = new List<long>();
        while (JsonReading.Next(ref reader) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number)
                throw new SafeTensorsException(elementError, filePath, name,
                    $"\"{field}\" element {values.Count} must be a non-negative integer, found {reader.TokenType}");
            if (!reader.TryGetInt64(out long value) || value < 0)
                throw new SafeTensorsException(elementError, filePath, name,
                    $"\"{field}\" element {values.Count} must be a non-negative 64-bit integer, found " +
                    Encoding.UTF8.GetString(reader.ValueSpan));
            values.Add(value);
        }
        return values.ToArray();
    }

    /// <summary>Checks sizes against shapes, then that the data offsets tile the data buffer exactly, in order of begin.</summary>
    private static List<HeaderEntry> Validate(List<RawEntry> raws, string filePath, long dataStart, long dataLength)
    {
        foreach (var raw in raws)
        {
            if (raw.End < raw.Begin)
                throw new SafeTensorsException(SafeTensorsError.InvalidOffsets, filePath, raw.Name,
                    $"data_offsets [{raw.Begin}, {raw.End}] end before they begin");
            FormatDTypes.TryGetBits(raw.DTypeName, out int bits);
            if (!TensorSize.TryByteLength(raw.Shape, bits, out long bytes, out var kind, out string error))
                throw new SafeTensorsException(kind, filePath, raw.Name, $"dtype {raw.DTypeName}: {error}");
            if (bytes != raw.End - raw.Begin)
                throw new SafeTensorsException(SafeTensorsError.ByteSizeMismatch, filePath, raw.Name,
                    $"dtype {raw.DTypeName} shape {TensorSize.Format(raw.Shape)} needs {bytes} bytes, but data_offsets " +
                    $"[{raw.Begin}, {raw.End}] span {raw.End - raw.Begin}");
        }

        var sorted = raws.OrderBy(r => r.Begin).ThenBy(r => r.End).ToList();
        long covered = 0;
        RawEntry? previous = null;
        foreach (var raw in sorted)
        {
            if (raw.Begin > covered)
                throw new SafeTensorsException(SafeTensorsError.OffsetsNotContiguous, filePath, raw.Name, previous is null
                    ? $"the first tensor's data must start at offset 0 of the data buffer, but it starts at {raw.Begin}"
                    : $"data starts at {raw.Begin}, but tensor '{previous.Name}' ends at {covered}: a gap of {raw.Begin - covered} bytes");
            if (raw.Begin < covered)
                throw new SafeTensorsException(SafeTensorsError.OffsetsOverlap, filePath, raw.Name,
                    $"data [{raw.Begin}, {raw.End}] overlaps tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]");
            covered = raw.End;
            previous = raw;
        }

        if (covered < dataLength)
            throw new SafeTensorsException(SafeTensorsError.DataSizeMismatch, filePath, null,
                $"the data buffer holds {dataLength} bytes but the tensors cover {covered}: {dataLength - covered} trailing bytes");
        if (covered > dataLength)
            throw new SafeTensorsException(SafeTensorsError.DataSizeMismatch, filePath, previous!.Name,
                $"data ends at {covered} but the file's data buffer holds only {dataLength} bytes (truncated file?)");

        return raws.Select(r => new HeaderEntry(r.Name, r.DTypeName,
            DTypeInfo.TryParseSafetensors(r.DTypeName, out var dtype) ? dtype : null,
            r.Shape, dataStart + r.Begin, r.End - r.Begin)).ToList();
    }
}
