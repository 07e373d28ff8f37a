using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>
/// A tensor declared for writing: its name, dtype and shape, and where its bytes come from (a copy taken now, a callback
/// that streams them when the file is written, or nothing: the bytes stay zero as a sparse region of the file).
/// </summary>
public sealed class PendingTensor
{
    private readonly long[] _shape;
    private readonly byte[]? _data;
    private readonly Action<Stream>? _writeData;

    private PendingTensor(string name, DType dtype, ReadOnlySpan<long> shape, byte[]? data, Action<Stream>? writeData)
    {
        if (string.IsNullOrEmpty(name) || name == HeaderParser.MetadataKey)
            throw new ArgumentException($"'{name}' cannot name a tensor", nameof(name));
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0)
                throw new ArgumentException($"tensor '{name}': dimension {i} of shape {TensorSize.Format(shape)} is negative",
                    nameof(shape));
        }
        if (!TensorSize.TryByteLength(shape, dtype.SizeOf() * 8, out long bytes, out _, out string error))
            throw new ArgumentException($"tensor '{name}': {error}", nameof(shape));
        if (data is not null && data.LongLength != bytes)
            throw new ArgumentException(
                $"tensor '{name}': {dtype.SafetensorsName()} {TensorSize.Format(shape)} needs {bytes} bytes, but {data.LongLength} were given",
                nameof(data));
        Name = name;
        DType = dtype;
        _shape = shape.ToArray();
        ByteLength = bytes;
        _data = data;
        _writeData = writeData;
    }

    /// <summary>Copies <paramref name="data"/>, which must be exactly the tensor's bytes.</summary>
    public static PendingTensor FromBytes(string name, DType dtype, ReadOnlySpan<long> shape, ReadOnlySpan<byte> data) =>
        new(name, dtype, shape, data.ToArray(), null);

    /// <summary>Copies <paramref name="data"/>, whose element size must be the dtype's.</summary>
    public static unsafe PendingTensor FromValues<T>(string name, DType dtype, ReadOnlySpan<long> shape, ReadOnlySpan<T> data)
        where T : unmanaged
    {
        if (sizeof(T) != dtype.SizeOf())
            throw new ArgumentException(
                $"tensor '{name}': {typeof(T).Name} has {sizeof(T)} bytes per element but {dtype.SafetensorsName()} has {dtype.SizeOf()}",
                nameof(data));
        return FromBytes(name, dtype, shape, MemoryMarshal.AsBytes(data));
    }

    /// <summary>
    /// <paramref name="writeData"/> is called when the file is written and must write exactly <see cref="ByteLength"/>
    /// bytes; null leaves them zero without writing them.
    /// </summary>
    public static PendingTensor Streamed(string name, DType dtype, ReadOnlySpan<long> shape, Action<Stream>? writeData) =>
        new(name, dtype, shape, null, writeData);

    public string Name { get; }

    public DType DType { get; }

    public IReadOnlyList<long> Shape => _shape;

    public long ByteLength { get; }

    /// <summary>Writes the bytes at <paramref name="output"/>'s position; a sparse tensor just moves the position.</summary>
    internal void WriteData(Stream output, string filePath)
    {
        if (_data is not null)
        {
            output.Write(_data);
            return;
        }
        if (_writeData is null)
        {
            output.Seek(ByteLength, SeekOrigin.Current);
            return;
        }
        var bounded = new BoundedWriteStream(output, ByteLength, filePath, Name);
        _writeData(bounded);
        if (bounded.Written != ByteLength)
            throw new SafeTensorsException(SafeTensorsError.WrittenSizeMismatch, filePath, Name,
                $"the streamed writer wrote {bounded.Written} bytes, but {DType.SafetensorsName()} {TensorSize.Format(_shape)} " +
                $"is {ByteLength} bytes");
    }

    internal void WriteHeaderEntry(System.Text.Json.Utf8JsonWriter json, long begin)
    {
        json.WriteStartObject(Name);
        json.WriteString("dtype", DType.SafetensorsName());
        json.WriteStartArray("shape");
        foreach (long dim in _shape)
            json.WriteNumberValue(dim);
        json.WriteEndArray();
        json.WriteStartArray("data_offsets");
        json.WriteNumberValue(begin);
        json.WriteNumberValue(begin + ByteLength);
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
