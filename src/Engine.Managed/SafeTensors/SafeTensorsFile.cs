using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>
/// One safetensors file, validated and memory-mapped read-only. Opening reads only the header; tensor bytes are paged in
/// from the mapping when touched.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private readonly long _fileLength;
    private readonly Dictionary<string, HeaderEntry> _entries;
    private readonly Dictionary<string, TensorInfo> _infos;
    private readonly IReadOnlyList<TensorInfo> _tensors;
    private readonly HeaderEntry? _firstUnsupported;
    private bool _disposed;

    private SafeTensorsFile(string filePath, FileStream stream, long headerLength, ParsedHeader header)
    {
        FilePath = filePath;
        Metadata = header.Metadata;
        Entries = header.Entries;
        _fileLength = stream.Length;
        _dataStart = sizeof(ulong) + headerLength;
        _entries = header.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        _firstUnsupported = header.Entries.FirstOrDefault(e => e.DType is null);
        _tensors = header.Entries.Where(e => e.DType is not null)
            .Select(e => new TensorInfo(e.Name, e.DType!.Value, e.Shape, e.DataOffset, e.ByteLength, filePath)).ToList();
        _infos = _tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);

        _map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None,
            leaveOpen: false);
        try
        {
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _base = pointer + _view.PointerOffset;
        }
        catch
        {
            _view?.Dispose();
            _map.Dispose();
            throw;
        }
    }

    /// <summary>Opens and validates <paramref name="path"/>; throws <see cref="SafeTensorsException"/> when it is malformed.</summary>
    public static SafeTensorsFile Open(string path)
    {
        string fullPath = Path.GetFullPath(path);
        if (Interop.LibcStat.FileType(fullPath) is { } type && type != 0x8000)
            throw new SafeTensorsException(SafeTensorsError.NotARegularFile, fullPath, null,
                "not a regular file (a FIFO, device, socket or directory): a safetensors file must be one");
        FileStream stream;
        try
        {
            // FileShare.Delete lets a writer atomically replace the file while it is mapped.
            stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete,
                bufferSize: 0);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SafeTensorsException(SafeTensorsError.FileNotFound, fullPath, null, "no such file", e);
        }
        try
        {
            long length = stream.Length;
            if (length < sizeof(ulong))
                throw new SafeTensorsException(SafeTensorsError.Truncated, fullPath, null,
                    $"the file is {length} bytes, shorter than the 8-byte header length prefix");
            Span<byte> prefix = stackalloc byte[sizeof(ulong)];
            stream.ReadExactly(prefix);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > HeaderParser.MaxHeaderBytes)
                throw new SafeTensorsException(SafeTensorsError.HeaderTooLarge, fullPath, null,
                    $"the header length prefix says {headerLength} bytes, above the {HeaderParser.MaxHeaderBytes}-byte cap");
            if ((long)headerLength > length - sizeof(ulong))
                throw new SafeTensorsException(SafeTensorsError.HeaderLengthPastEnd, fullPath, null,
                    $"the header length prefix says {headerLength} bytes, but only {length - sizeof(ulong)} follow it");
            var headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
            var header = HeaderParser.Parse(headerBytes, fullPath, length);
            return new SafeTensorsFile(fullPath, stream, (long)headerLength, header);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The absolute path of the file.</summary>
    public string FilePath { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor the header declares, in header order, whatever its dtype.</summary>
    public IReadOnlyList<HeaderEntry> Entries { get; }

    /// <summary>The tensors in header order; throws UnsupportedDType when one has a dtype the engine cannot hold.</summary>
    public IReadOnlyList<TensorInfo> Tensors
    {
        get
        {
            if (_firstUnsupported is not null)
                throw Unsupported(_firstUnsupported);
            return _tensors;
        }
    }

    /// <summary>True when the file holds a tensor of this name; false only when it is absent (an unsupported dtype throws).</summary>
    public bool TryGetTensor(string name, out TensorInfo info)
    {
        if (!_entries.TryGetValue(name, out var entry))
        {
            info = null!;
            return false;
        }
        info = _infos.TryGetValue(name, out var found) ? found : throw Unsupported(entry);
        return true;
    }

    public TensorInfo GetTensor(string name) =>
        TryGetTensor(name, out var info)
            ? info
            : throw new SafeTensorsException(SafeTensorsError.TensorNotFound, FilePath, name,
                $"the file holds no such tensor ({_entries.Count} tensors)");

    /// <summary>The tensor's first byte in the mapping; valid until this file is disposed.</summary>
    public byte* GetPointer(TensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (info.FilePath != FilePath || info.DataOffset < _dataStart || info.ByteLength < 0 ||
            info.DataOffset > _fileLength - info.ByteLength)
            throw new ArgumentException(
                $"tensor '{info.Name}' of {info.FilePath} at [{info.DataOffset}, +{info.ByteLength}) is not a tensor of {FilePath}",
                nameof(info));
        return _base + info.DataOffset;
    }

    /// <summary>The tensor's bytes as a span over the mapping; throws TensorTooLarge above int.MaxValue bytes.</summary>
    public ReadOnlySpan<byte> GetBytes(TensorInfo info)
    {
        byte* pointer = GetPointer(info);
        if (info.ByteLength > int.MaxValue)
            throw new SafeTensorsException(SafeTensorsError.TensorTooLarge, FilePath, info.Name,
                $"{info.ByteLength} bytes do not fit one span (at most {int.MaxValue}); use GetPointer");
        return new ReadOnlySpan<byte>(pointer, (int)info.ByteLength);
    }

    /// <summary>A float tensor (F32, BF16 or F16) read as F32; another dtype is an <see cref="ArgumentException"/>.</summary>
    public float[] ReadFloats(TensorInfo info)
    {
        var values = new float[info.ElementCount];
        switch (info.DType)
        {
            case DType.F32:
                CopyTo<float>(info, values);
                break;
            case DType.BF16:
                var bits = new ushort[info.ElementCount];
                CopyTo<ushort>(info, bits);
                BFloat16.ToSingle(bits, values);
                break;
            case DType.F16:
                var halves = new Half[info.ElementCount];
                CopyTo<Half>(info, halves);
                for (int i = 0; i < values.Length; i++) values[i] = (float)halves[i];
                break;
            default:
                throw new ArgumentException($"{FilePath}: tensor '{info.Name}' is {info.DType.SafetensorsName()}, not a float tensor (F32, BF16 or F16)", nameof(info));
        }
        return values;
    }

    /// <summary>Copies the tensor into <paramref name="destination"/>, whose element size and length must match it.</summary>
    public void CopyTo<T>(TensorInfo info, Span<T> destination) where T : unmanaged
    {
        byte* source = GetPointer(info);
        if (sizeof(T) != info.DType.SizeOf())
            throw new ArgumentException(
                $"{FilePath}: tensor '{info.Name}' is {info.DType.SafetensorsName()} ({info.DType.SizeOf()} bytes per element), " +
                $"but the destination's {typeof(T).Name} has {sizeof(T)} bytes", nameof(destination));
        if (destination.Length != info.ElementCount)
            throw new ArgumentException(
                $"{FilePath}: tensor '{info.Name}' has {info.ElementCount} elements, but the destination holds {destination.Length}",
                nameof(destination));
        fixed (T* target = destination)
            Buffer.MemoryCopy(source, target, info.ByteLength, info.ByteLength);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private SafeTensorsException Unsupported(HeaderEntry entry) =>
        new(SafeTensorsError.UnsupportedDType, FilePath, entry.Name,
            $"dtype {entry.DTypeName} is a valid safetensors dtype but the engine cannot hold it (supported: " +
            $"{string.Join(", ", Enum.GetValues<DType>().Select(d => d.SafetensorsName()))})");
}
