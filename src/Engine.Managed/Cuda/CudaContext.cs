using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// One GPU's primary context, and the owner of everything allocated through it: streams, events, device and pinned
/// host buffers, modules. Disposing the context frees whatever is still alive (newest first) and releases the
/// primary context. Methods make the context current on the calling thread when it is not.
/// </summary>
public sealed unsafe class CudaContext : IDisposable
{
    private readonly int device;
    private readonly LinkedList<CudaResource> owned = new();
    private readonly Lock gate = new();
    private nint handle;

    private CudaContext(int device, nint handle, CudaDeviceInfo info)
    {
        this.device = device;
        this.handle = handle;
        Device = info;
    }

    /// <summary>Retains the primary context of a device and makes it current on this thread.</summary>
    public static CudaContext Create(int ordinal = 0)
    {
        var info = CudaDeviceInfo.Query(ordinal);
        int device;
        nint context;
        CudaCheck.Ok(CuNative.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        CudaCheck.Ok(CuNative.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        var result = CuNative.cuCtxSetCurrent(context);
        if (result != CuResult.Success)
        {
            CuNative.cuDevicePrimaryCtxRelease_v2(device);
            throw CudaCheck.Failure(result, "cuCtxSetCurrent");
        }
        return new CudaContext(device, context, info);
    }

    public CudaDeviceInfo Device { get; }

    /// <summary>The CUcontext handle.</summary>
    public nint Handle => handle != 0 ? handle : throw new ObjectDisposedException(nameof(CudaContext));

    public bool IsDisposed => handle == 0;

    /// <summary>Makes this context current on the calling thread (a no-op when it already is).</summary>
    public void MakeCurrent()
    {
        var context = Handle;
        nint current;
        CudaCheck.Ok(CuNative.cuCtxGetCurrent(&current), "cuCtxGetCurrent");
        if (current != context)
            CudaCheck.Ok(CuNative.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /// <summary>Free and total device memory, as the driver sees them now.</summary>
    public (ulong Free, ulong Total) MemoryInfo()
    {
        MakeCurrent();
        nuint free, total;
        CudaCheck.Ok(CuNative.cuMemGetInfo_v2(&free, &total), "cuMemGetInfo_v2");
        return (free, total);
    }

    /// <summary>Waits for all work on every stream of this context.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        CudaCheck.Ok(CuNative.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    /// <summary>
    /// A new stream. A blocking stream (the default) is ordered with the legacy default stream, which the synchronous
    /// copies use; a non-blocking one runs independently of it.
    /// </summary>
    public CudaStream CreateStream(bool nonBlocking = false) => new(this, nonBlocking);

    public CudaEvent CreateEvent(bool timing = true) => new(this, timing);

    public DeviceBuffer<T> Allocate<T>(long length) where T : unmanaged => new(this, length);

    /// <summary>Page-locked host memory, which asynchronous copies need.</summary>
    public HostBuffer<T> AllocateHost<T>(long length) where T : unmanaged => new(this, length);

    /// <summary>Loads a CUBIN, PTX or fatbin image. The description (e.g. "CUBIN for sm_90 from NVRTC 12.4") goes into errors.</summary>
    public CudaModule LoadModule(ReadOnlySpan<byte> image, string name, string? imageDescription = null) =>
        new(this, image, name, imageDescription);

    internal LinkedListNode<CudaResource> Adopt(CudaResource resource)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(handle == 0, this);
            return owned.AddLast(resource);
        }
    }

    internal void Forget(LinkedListNode<CudaResource> node)
    {
        lock (gate)
        {
            if (node.List == owned)
                owned.Remove(node);
        }
    }

    /// <summary>Frees every resource still alive, newest first, then releases the primary context.</summary>
    public void Dispose()
    {
        CudaResource[] remaining;
        lock (gate)
        {
            if (handle == 0)
                return;
            remaining = [.. owned];
            owned.Clear();
        }
        CudaException? first = null;
        var current = CuNative.cuCtxSetCurrent(handle);
        if (current != CuResult.Success)
            first = CudaCheck.Failure(current, "cuCtxSetCurrent");
        for (int i = remaining.Length - 1; i >= 0; i--)
        {
            var result = remaining[i].ReleaseForContext();
            if (result != CuResult.Success)
                first ??= CudaCheck.Failure(result, remaining[i].ReleaseCall);
        }
        handle = 0;
        var released = CuNative.cuDevicePrimaryCtxRelease_v2(device);
        if (released != CuResult.Success)
            first ??= CudaCheck.Failure(released, "cuDevicePrimaryCtxRelease_v2");
        if (first is not null)
            throw first;
    }
}
