using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// The reference backend: fp32 math in C# on host memory (TensorPrimitives for the inner loops, Parallel.For across
/// rows and heads). Activations and the KV cache are F32; weights stay BF16 (zero-copy from the checkpoint) or F32.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public string Name => "cpu";
    public BackendKind Kind => BackendKind.Cpu;
    public DType ActivationType => DType.F32;
    public double? PeakBandwidthBytesPerSecond => null;

    public Tensor Allocate(DType dtype, ReadOnlySpan<int> shape, string? name = null)
    {
        long bytes = checked(Tensor.Elements(shape) * dtype.SizeOf());
        var memory = new HostMemory(bytes);
        return new Tensor(this, dtype, shape, memory.Address, memory, name);
    }

    public Tensor LoadWeight(nint hostData, DType dtype, ReadOnlySpan<int> shape, string name)
    {
        if (dtype is DType.BF16 or DType.F32)
            return new Tensor(this, dtype, shape, hostData, owner: null, name);
        var converted = Allocate(DType.F32, shape, name);
        var dst = F32(converted);
        switch (dtype)
        {
            case DType.F16:
                var half = new ReadOnlySpan<Half>((void*)hostData, dst.Length);
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)half[i];
                break;
            case DType.F64:
                var dbl = new ReadOnlySpan<double>((void*)hostData, dst.Length);
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)dbl[i];
                break;
            default:
                converted.Dispose();
                throw new ArgumentException($"weight '{name}' has dtype {dtype}; the CPU backend takes BF16, F16, F32 or F64 weights");
        }
        return converted;
    }

    public void Upload<T>(ReadOnlySpan<T> source, Tensor destination) where T : unmanaged
    {
        var dst = Bytes(destination, "Upload", "destination");
        var src = MemoryMarshal.AsBytes(source);
        if (src.Length != dst.Length)
            throw new ArgumentException($"Upload: {src.Length} bytes of {typeof(T).Name} do not match {destination.Describe()} ({dst.Length} bytes)");
        src.CopyTo(dst);
    }

    public void Download<T>(Tensor source, Span<T> destination) where T : unmanaged
    {
        var src = Bytes(source, "Download", "source");
        var dst = MemoryMarshal.AsBytes(destination);
        if (src.Length != dst.Length)
            throw new ArgumentException($"Download: {source.Describe()} ({src.Length} bytes) does not match {dst.Length} bytes of {typeof(T).Name}");
        src.CopyTo(dst);
    }

    public void Copy(Tensor source, Tensor destination)
    {
        using var timing = CpuOpProfile.Time("Copy");
        OpCheck.DType("Copy", "destination", destination, source.DType);
        if (source.ElementCount != destination.ElementCount)
            throw new ArgumentException($"Copy: {source.Describe()} and {destination.Describe()} differ in element count");
        Bytes(source, "Copy", "source").CopyTo(Bytes(destination, "Copy", "destination"));
    }

    public void Synchronize()
    {
    }

    /// <summary>Host RAM as the runtime sees it (container limits included); "free" is what is not in use by anyone.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        var gc = GC.GetGCMemoryInfo();
        long total = gc.TotalAvailableMemoryBytes;
        long available = ReadMemAvailable() ?? total - Environment.WorkingSet;
        return (Math.Clamp(available, 0, total), total);
    }

    /// <summary>Linux's own estimate of allocatable memory (page cache included), when /proc/meminfo exists.</summary>
    private static long? ReadMemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    public void Dispose()
    {
    }

    private Span<byte> Bytes(Tensor t, string op, string arg)
    {
        OpCheck.Backend(this, op, arg, t);
        return new Span<byte>((void*)t.Address, checked((int)t.ByteLength));
    }

    internal Span<float> F32(Tensor t)
    {
        if (t.DType != DType.F32) throw new ArgumentException($"expected an F32 tensor, got {t.Describe()}");
        return new Span<float>((void*)t.Address, checked((int)t.ElementCount));
    }

    private Span<int> I32(Tensor t)
    {
        if (t.DType != DType.I32) throw new ArgumentException($"expected an I32 tensor, got {t.Describe()}");
        return new Span<int>((void*)t.Address, checked((int)t.ElementCount));
    }

    /// <summary>Row <paramref name="row"/> of a BF16 or F32 weight matrix as floats (BF16 rows are widened into scratch).</summary>
    private static ReadOnlySpan<float> WeightRow(Tensor w, long row, int length, Span<float> scratch)
    {
        long offset = row * length;
        if (w.DType == DType.F32)
            return new ReadOnlySpan<float>((float*)w.Address + offset, length);
        BFloat16.ToSingle(new ReadOnlySpan<ushort>((ushort*)w.Address + offset, length), scratch);
        return scratch[..length];
    }

    private static void CheckWeight(string op, string arg, Tensor w) => OpCheck.DType(op, arg, w, DType.BF16, DType.F32);
}
