using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Page-locked (pinned) host memory of <typeparamref name="T"/>: the source or destination asynchronous copies need,
/// since the GPU reads it by DMA after the call returns. Owned by its context.
/// </summary>
public sealed unsafe class HostBuffer<T> : CudaResource where T : unmanaged
{
    private readonly T* pointer;

    internal HostBuffer(CudaContext context, long length) : base(context)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        // Even an empty buffer is registered, so the context's teardown marks it disposed like the others.
        if (length == 0)
        {
            Register();
            return;
        }
        context.MakeCurrent();
        long bytes = checked(length * sizeof(T));
        void* allocated;
        var result = CuNative.cuMemHostAlloc(&allocated, (nuint)bytes, 0);
        if (result == CuResult.OutOfMemory)
            throw CudaCheck.Failure(result, "cuMemHostAlloc", hint:
                $"Could not pin {ByteSize.Format((ulong)bytes)} of host memory for HostBuffer<{typeof(T).Name}>[{length}]: " +
                "the system is short of RAM or the locked-memory limit (ulimit -l) is too low.");
        CudaCheck.Ok(result, "cuMemHostAlloc");
        pointer = (T*)allocated;
        Register();
    }

    public long Length { get; }

    public long SizeInBytes => Length * sizeof(T);

    public T* Pointer
    {
        get
        {
            ThrowIfDisposed();
            return pointer;
        }
    }

    /// <summary>The memory as a span (buffers over 2^31 - 1 elements are reached through <see cref="Pointer"/>).</summary>
    public Span<T> Span => Length <= int.MaxValue
        ? new Span<T>(Pointer, (int)Length)
        : throw new InvalidOperationException($"HostBuffer<{typeof(T).Name}> of {Length} elements is too long for a span; use Pointer");

    internal override CuResult Release() => pointer == null ? CuResult.Success : CuNative.cuMemFreeHost(pointer);

    internal override string ReleaseCall => "cuMemFreeHost";
}
