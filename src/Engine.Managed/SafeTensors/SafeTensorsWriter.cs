using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using CoAR.Engine.Managed.Tensors;

using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>
/// Writes one safetensors file. Tensors are declared first and their bytes written once, in one pass, to a temp file
/// beside the target that is then renamed over it. The header lists tensors in declaration order; their data is laid out
/// by descending element size so each tensor starts aligned to its element size.
/// </summary>
public sealed class SafeTensorsWriter
{
    private readonly KeyValuePair<string, string>[]? _metadata;
    private readonly List<PendingTensor> _tensors = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <param name="metadata">the header's "__metadata__"; null writes none</param>
    public SafeTensorsWriter(IReadOnlyDictionary<string, string>? metadata = null)
    {
        _metadata = metadata?.ToArray();
    }

    public IReadOnlyList<PendingTensor> Tensors => _tensors;

    public void Add(PendingTensor tensor)
    {
        if (!_names.Add(tensor.Name))
            throw new ArgumentException($"tensor '{tensor.Name}' is already declared", nameof(tensor));
        _tensors.Add(tensor);
    }

    /// <summary>Copies <paramref name="data"/>, which must be exactly the tensor's bytes.</summary>
    public void Add(string name, DType dtype, ReadOnlySpan<long> shape, ReadOnlySpan<byte> data) =>
        Add(PendingTensor.FromBytes(name, dtype, shape, data));

    /// <summary>Copies <paramref name="data"/>, whose element size must be the dtype's.</summary>
    public void Add<T>(string name, DType dtype, ReadOnlySpan<long> shape, ReadOnlySpan<T> data) where T : unmanaged =>
        Add(PendingTensor.FromValues(name, dtype, shape, data));

    /// <summary>
    /// <paramref name="writeData"/> is called during <see cref="WriteTo"/> and must write exactly the tensor's bytes
    /// (checked); null leaves them zero as a sparse region, so huge shapes can be written header-only in seconds.
    /// </summary>
    public void AddStreamed(string name, DType dtype, ReadOnlySpan<long> shape, Action<Stream>? writeData) =>
        Add(PendingTensor.Streamed(name, dtype, shape, writeData));

    /// <summary>Writes the file to a temp file in the same directory, then renames it to <paramref name="path"/>.</summary>
    public void WriteTo(string path)
    {
        string fullPath = Path.GetFullPath(path);
        AtomicFile.Commit(WriteTemporary(fullPath), fullPath);
    }

    /// <summary>Writes the whole file to a temp path beside <paramref name="fullPath"/> and returns it; deletes it on failure.</summary>
    internal string WriteTemporary(string fullPath)
    {
        var dataOrder = _tensors.OrderByDescending(t => t.DType.SizeOf()).ToList();
        byte[] header = BuildHeader(fullPath, dataOrder);
        long fileLength = sizeof(ulong) + header.Length + dataOrder.Sum(t => t.ByteLength);
        return AtomicFile.WriteTemporary(fullPath, file =>
        {
            Span<byte> prefix = stackalloc byte[sizeof(ulong)];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            file.Write(prefix);
            file.Write(header);
            foreach (var tensor in dataOrder)
                tensor.WriteData(file, fullPath);
            // Sparse tensors at the end only moved the position: extend the file over them.
            file.SetLength(fileLength);
        });
    }

    /// <summary>The JSON header, space-padded to a multiple of 8 bytes as the reference writer does.</summary>
    private byte[] BuildHeader(string fullPath, List<PendingTensor> dataOrder)
    {
        var begins = new Dictionary<PendingTensor, long>(ReferenceEqualityComparer.Instance);
        long offset = 0;
        foreach (var tensor in dataOrder)
        {
            begins.Add(tensor, offset);
            offset += tensor.ByteLength;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (_metadata is not null)
            {
                json.WriteStartObject(HeaderParser.MetadataKey);
                foreach (var (key, value) in _metadata)
                    json.WriteString(key, value);
                json.WriteEndObject();
            }
            foreach (var tensor in _tensors)
                tensor.WriteHeaderEntry(json, begins[tensor]);
            json.WriteEndObject();
        }

        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        if (padded > HeaderParser.MaxHeaderBytes)
            throw new SafeTensorsException(SafeTensorsError.HeaderTooLarge, fullPath, null,
                $"the header would be {padded} bytes, above the {HeaderParser.MaxHeaderBytes}-byte cap");
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
