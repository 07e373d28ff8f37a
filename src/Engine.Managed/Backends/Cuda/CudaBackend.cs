using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Interop;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// The GPU backend: NVRTC-compiled kernels (kernels/*.cu) on one device, all work queued in order on one stream.
/// Activations and the KV cache are BF16 with fp32 math inside every kernel; logits, losses, log-sum-exps and the
/// context tables are F32; the VQGAN runs in F32. Weights stay BF16 or F32 as loaded.
/// </summary>
/// <remarks>
/// Ops validate shapes and dtypes on the host, like the CPU backend. Index tensors (token ids, row indices, token
/// maps, sampling rules) live on the device, so checks of their values would need a round trip: they are the
/// caller's contract here. The kernels never touch memory outside their tensors: a gather through a bad index yields
/// NaN (or -1 for integer rows), a scatter through one is dropped, a sampling row the CPU would reject draws -1.
/// </remarks>
public sealed unsafe partial class CudaBackend : IBackend
{
    /// <summary>Threads per block of the one-block-per-row kernels.</summary>
    private const int RowThreads = 256;

    /// <summary>Blocks per multiprocessor the grid-stride kernels are given: enough to hide memory latency.</summary>
    private const int GridStrideBlocksPerSm = 16;

    private readonly CudaContext _context;
    private readonly CudaStream _stream;
    private readonly KernelLibrary _kernels;
    private bool _disposed;

    private CudaBackend(CudaContext context, KernelCompiler compiler)
    {
        _context = context;
        _stream = context.CreateStream();
        _kernels = new KernelLibrary(context, compiler);
        Name = $"cuda:{context.Device.Ordinal} {context.Device.Name}";
    }

    /// <summary>
    /// True when device <paramref name="ordinal"/> can run this backend: the driver loads and sees the device, and
    /// kernels can be built (NVRTC loads) or come prebuilt (a fatbin directory is configured); otherwise the reason.
    /// </summary>
    public static bool IsAvailable(int ordinal, out string reason) => IsAvailable(ordinal, KernelCompilerOptions.FromEnvironment(), out reason);

    private static bool IsAvailable(int ordinal, KernelCompilerOptions options, out string reason)
    {
        if (!CudaDriver.TryLoad(out reason))
            return false;
        int count = CudaDriver.DeviceCount;
        if (count == 0)
        {
            reason = $"no CUDA device: {reason} sees none";
            return false;
        }
        if (ordinal < 0 || ordinal >= count)
        {
            reason = $"no CUDA device {ordinal}: the driver sees {count} (0 to {count - 1})";
            return false;
        }
        if (options.FatbinDirectory is null && !Nvrtc.TryLoad(out var nvrtcReason))
        {
            reason = $"the CUDA kernels cannot be compiled: {nvrtcReason}";
            return false;
        }
        reason = $"cuda:{ordinal} with {reason}";
        return true;
    }

    /// <summary>Opens device <paramref name="ordinal"/>; throws <see cref="DeviceUnavailableException"/> saying why when it cannot.</summary>
    public static CudaBackend Create(int ordinal) => Create(ordinal, new KernelCompiler());

    public static CudaBackend Create(int ordinal, KernelCompiler compiler)
    {
        if (!IsAvailable(ordinal, compiler.Options, out var reason))
            throw new DeviceUnavailableException($"device 'cuda:{ordinal}' is not available: {reason}");
        var context = CudaContext.Create(ordinal);
        try
        {
            return new CudaBackend(context, compiler);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    public string Name { get; }
    public BackendKind Kind => BackendKind.Cuda;
    public DType ActivationType => DType.BF16;

    /// <summary>The device this backend runs on.</summary>
    public CudaDeviceInfo Device => _context.Device;

    /// <summary>Device memory owned by the tensor (a buffer of the context, freed with the tensor or with the backend).</summary>
    public Tensor Allocate(DType dtype, ReadOnlySpan<int> shape, string? name = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long bytes = checked(Tensor.Elements(shape) * dtype.SizeOf());
        var buffer = _context.Allocate<byte>(bytes);
        return new Tensor(this, dtype, shape, (nint)buffer.Pointer, buffer, name);
    }

    /// <summary>Copies a weight to device memory: BF16 and F32 as they are, F16 and F64 converted to F32 on the host.</summary>
    public Tensor LoadWeight(nint hostData, DType dtype, ReadOnlySpan<int> shape, string name)
    {
        if (dtype is not (DType.BF16 or DType.F32 or DType.F16 or DType.F64))
            throw new ArgumentException($"weight '{name}' has dtype {dtype}; the CUDA backend takes BF16, F16, F32 or F64 weights");
        var tensor = Allocate(dtype is DType.BF16 ? DType.BF16 : DType.F32, shape, name);
        try
        {
            if (dtype is DType.BF16 or DType.F32)
                CopyToDevice((void*)hostData, (ulong)tensor.Address, tensor.ByteLength);
            else
                UploadConverted(hostData, dtype, tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Converts F16 or F64 host data to F32 a slice at a time (no host copy of the whole weight).</summary>
    private void UploadConverted(nint hostData, DType dtype, Tensor destination)
    {
        const int slice = 1 << 20;
        long count = destination.ElementCount;
        var floats = new float[(int)Math.Min(count, slice)];
        for (long start = 0; start < count; start += slice)
        {
            int n = (int)Math.Min(slice, count - start);
            if (dtype == DType.F16)
            {
                var half = new ReadOnlySpan<Half>((Half*)hostData + start, n);
                for (int i = 0; i < n; i++) floats[i] = (float)half[i];
            }
            else
            {
                var dbl = new ReadOnlySpan<double>((double*)hostData + start, n);
                for (int i = 0; i < n; i++) floats[i] = (float)dbl[i];
            }
            fixed (float* p = floats)
                CopyToDevice(p, (ulong)(destination.Address + (nint)(start * sizeof(float))), (long)n * sizeof(float));
        }
    }

    /// <summary>
    /// Queues the copy on the backend's stream after the work already queued. The source may be reused as soon as this
    /// returns: the driver stages pageable host memory before returning (do not pass page-locked memory that changes
    /// before the next <see cref="Synchronize"/>).
    /// </summary>
    public void Upload<T>(ReadOnlySpan<T> source, Tensor destination) where T : unmanaged
    {
        OpCheck.Backend(this, "Upload", "destination", destination);
        long bytes = (long)source.Length * sizeof(T);
        if (bytes != destination.ByteLength)
            throw new ArgumentException($"Upload: {bytes} bytes of {typeof(T).Name} do not match {destination.Describe()} ({destination.ByteLength} bytes)");
        fixed (T* p = source)
            CopyToDevice(p, (ulong)destination.Address, bytes);
    }

    /// <summary>Waits for the work queued before it, then copies; returns when the data is in <paramref name="destination"/>.</summary>
    public void Download<T>(Tensor source, Span<T> destination) where T : unmanaged
    {
        OpCheck.Backend(this, "Download", "source", source);
        long bytes = (long)destination.Length * sizeof(T);
        if (bytes != source.ByteLength)
            throw new ArgumentException($"Download: {source.Describe()} ({source.ByteLength} bytes) does not match {bytes} bytes of {typeof(T).Name}");
        if (bytes == 0)
            return;
        _context.MakeCurrent();
        fixed (T* p = destination)
        {
            CudaCheck.Ok(CuNative.cuMemcpyDtoHAsync_v2(p, (ulong)source.Address, (nuint)bytes, _stream.Handle), "cuMemcpyDtoHAsync_v2");
            _stream.Synchronize();
        }
    }

    public void Copy(Tensor source, Tensor destination)
    {
        OpCheck.Backend(this, "Copy", "source", source);
        OpCheck.Backend(this, "Copy", "destination", destination);
        OpCheck.DType("Copy", "destination", destination, source.DType);
        if (source.ElementCount != destination.ElementCount)
            throw new ArgumentException($"Copy: {source.Describe()} and {destination.Describe()} differ in element count");
        if (source.ByteLength == 0)
            return;
        _context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuMemcpyDtoDAsync_v2((ulong)destination.Address, (ulong)source.Address, (nuint)source.ByteLength, _stream.Handle),
            "cuMemcpyDtoDAsync_v2");
    }

    public void Synchronize()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _stream.Synchronize();
    }

    /// <summary>Double data rate x bus width from the device's attributes; null where the driver no longer reports the clock.</summary>
    public double? PeakBandwidthBytesPerSecond =>
        _context.Device.PeakMemoryBandwidthBytesPerSecond is > 0 and var peak ? peak : null;

    /// <summary>Free and total device memory (cuMemGetInfo): other processes' use included.</summary>
    public (long Free, long Total) MemoryInfo()
    {
        var (free, total) = _context.MemoryInfo();
        return ((long)free, (long)total);
    }

    public void Zero(Tensor t)
    {
        OpCheck.Backend(this, "Zero", "t", t);
        if (t.ByteLength == 0)
            return;
        _context.MakeCurrent();
        ulong address = (ulong)t.Address;
        var result = address % 4 == 0 && t.ByteLength % 4 == 0
            ? CuNative.cuMemsetD32Async(address, 0, (nuint)(t.ByteLength / 4), _stream.Handle)
            : CuNative.cuMemsetD8Async(address, 0, (nuint)t.ByteLength, _stream.Handle);
        CudaCheck.Ok(result, "cuMemsetAsync");
    }

    /// <summary>Frees everything this backend allocated (tensors still alive included): kernels, stream, then the context.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            _kernels.Dispose();
            _stream.Dispose();
        }
        finally
        {
            _context.Dispose();
        }
    }

    private void CopyToDevice(void* source, ulong destination, long bytes)
    {
        if (bytes == 0)
            return;
        _context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuMemcpyHtoDAsync_v2(destination, source, (nuint)bytes, _stream.Handle), "cuMemcpyHtoDAsync_v2");
    }

    /// <summary>Queues a kernel of a launch table on the backend's stream.</summary>
    private void Launch<TArgs>(KernelDescriptor<TArgs> kernel, Dim3 grid, Dim3 block, ref TArgs args, int sharedBytes = 0) where TArgs : unmanaged
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _kernels.Get(kernel).Launch(grid, block, sharedBytes, _stream, ref args);
    }

    /// <summary>A grid for a grid-stride kernel over <paramref name="work"/> items: one per thread, capped to keep the device busy.</summary>
    private Dim3 StrideGrid(long work, int threads) =>
        Dim3.BlocksFor(work, threads, (uint)(_context.Device.MultiprocessorCount * GridStrideBlocksPerSm));

    private static ulong Ptr(Tensor t) => (ulong)t.Address;

    /// <summary>1 for a BF16 tensor, 0 for F32: the kernels' run-time storage flag for weights and gradients.</summary>
    private static int Bf16(Tensor t) => t.DType == DType.BF16 ? 1 : 0;

    /// <summary>True when every tensor starts on a 16-byte boundary (the vector paths' requirement).</summary>
    private static bool Aligned16(Tensor a) => (a.Address & 15) == 0;

    private static bool Aligned16(Tensor a, Tensor b) => ((a.Address | b.Address) & 15) == 0;

    private static bool Aligned16(Tensor a, Tensor b, Tensor c) => ((a.Address | b.Address | c.Address) & 15) == 0;

    private static int Flag(bool value) => value ? 1 : 0;

    // Each op checks its arguments' ownership and dtypes with these first, then their shapes with OpShapes.

    private void CheckFloat(string op, string arg, Tensor t)
    {
        OpCheck.Backend(this, op, arg, t);
        OpCheck.DType(op, arg, t, DType.BF16, DType.F32);
    }

    private void CheckF32(string op, string arg, Tensor t)
    {
        OpCheck.Backend(this, op, arg, t);
        OpCheck.DType(op, arg, t, DType.F32);
    }

    private void CheckI32(string op, string arg, Tensor t)
    {
        OpCheck.Backend(this, op, arg, t);
        OpCheck.DType(op, arg, t, DType.I32);
    }

    /// <summary>Checks that <paramref name="t"/> is on this backend and has <paramref name="reference"/>'s dtype.</summary>
    private void CheckSameType(string op, string arg, Tensor t, Tensor reference)
    {
        OpCheck.Backend(this, op, arg, t);
        OpCheck.DType(op, arg, t, reference.DType);
    }
}
