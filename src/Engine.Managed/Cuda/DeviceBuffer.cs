using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Device memory holding <typeparamref name="T"/> elements, owned by its context. Synchronous copies take spans and
/// run on the legacy default stream (ordered after work on blocking streams); asynchronous copies take a pinned
/// <see cref="HostBuffer{T}"/>, whose lifetime the context guarantees until the stream is done with it.
/// </summary>
public sealed unsafe class DeviceBuffer<T> : CudaResource where T : unmanaged
{
    private readonly ulong pointer;

    internal DeviceBuffer(CudaContext context, long length) : base(context)
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
        ulong allocated;
        var result = CuNative.cuMemAlloc_v2(&allocated, (nuint)bytes);
        if (result == CuResult.OutOfMemory)
            throw OutOfMemory(result, bytes);
        CudaCheck.Ok(result, "cuMemAlloc_v2");
        pointer = allocated;
        Register();
    }

    public long Length { get; }

    public long SizeInBytes => Length * sizeof(T);

    /// <summary>The CUdeviceptr of element 0 (0 for an empty buffer): what a kernel argument struct holds.</summary>
    public ulong Pointer
    {
        get
        {
            ThrowIfDisposed();
            return pointer;
        }
    }

    /// <summary>The device address of an element.</summary>
    public ulong PointerAt(long index)
    {
        if ((ulong)index > (ulong)Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"index outside DeviceBuffer<{typeof(T).Name}>[{Length}]");
        return Pointer + (ulong)(index * sizeof(T));
    }

    /// <summary>Copies host elements into the buffer from element <paramref name="offset"/> on; returns when done.</summary>
    public void CopyFrom(ReadOnlySpan<T> source, long offset = 0)
    {
        CheckRange(offset, source.Length);
        if (source.IsEmpty)
            return;
        Context.MakeCurrent();
        fixed (T* p = source)
            CudaCheck.Ok(CuNative.cuMemcpyHtoD_v2(PointerAt(offset), p, Bytes(source.Length)), "cuMemcpyHtoD_v2");
    }

    /// <summary>Copies elements from <paramref name="offset"/> on into a host span; returns when done.</summary>
    public void CopyTo(Span<T> destination, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        if (destination.IsEmpty)
            return;
        Context.MakeCurrent();
        fixed (T* p = destination)
            CudaCheck.Ok(CuNative.cuMemcpyDtoH_v2(p, PointerAt(offset), Bytes(destination.Length)), "cuMemcpyDtoH_v2");
    }

    /// <summary>The whole buffer as a new array (tests and small readbacks).</summary>
    public T[] ToArray()
    {
        var array = new T[checked((int)Length)];
        CopyTo(array);
        return array;
    }

    /// <summary>Queues a copy of the whole pinned buffer into this one from element <paramref name="offset"/> on.</summary>
    public void CopyFromAsync(HostBuffer<T> source, CudaStream? stream, long offset = 0)
    {
        CheckRange(offset, source.Length);
        if (source.Length == 0)
            return;
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuMemcpyHtoDAsync_v2(PointerAt(offset), source.Pointer, Bytes(source.Length), CudaStream.HandleOf(stream)),
            "cuMemcpyHtoDAsync_v2");
    }

    /// <summary>Queues a copy into the whole pinned buffer from element <paramref name="offset"/> on.</summary>
    public void CopyToAsync(HostBuffer<T> destination, CudaStream? stream, long offset = 0)
    {
        CheckRange(offset, destination.Length);
        if (destination.Length == 0)
            return;
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuMemcpyDtoHAsync_v2(destination.Pointer, PointerAt(offset), Bytes(destination.Length), CudaStream.HandleOf(stream)),
            "cuMemcpyDtoHAsync_v2");
    }

    /// <summary>Copies all of another device buffer to the start of this one; returns when done.</summary>
    public void CopyFrom(DeviceBuffer<T> source)
    {
        CheckRange(0, source.Length);
        if (source.Length == 0)
            return;
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuMemcpyDtoD_v2(Pointer, source.Pointer, Bytes(source.Length)), "cuMemcpyDtoD_v2");
    }

    /// <summary>Queues a copy of all of another device buffer to the start of this one.</summary>
    public void CopyFromAsync(DeviceBuffer<T> source, CudaStream? stream)
    {
        CheckRange(0, source.Length);
        if (source.Length == 0)
            return;
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuMemcpyDtoDAsync_v2(Pointer, source.Pointer, Bytes(source.Length), CudaStream.HandleOf(stream)),
            "cuMemcpyDtoDAsync_v2");
    }

    /// <summary>Sets every element to <paramref name="value"/> (elements of 1, 2 or 4 bytes, by the driver's memset).</summary>
    public void Fill(T value) => Memset(value, null, synchronous: true);

    /// <summary>Queues setting every element to <paramref name="value"/> (elements of 1, 2 or 4 bytes).</summary>
    public void FillAsync(T value, CudaStream? stream) => Memset(value, stream, synchronous: false);

    /// <summary>Sets every byte to zero.</summary>
    public void Clear()
    {
        if (Length == 0)
            return;
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuMemsetD8_v2(Pointer, 0, Bytes(Length)), "cuMemsetD8_v2");
    }

    private void Memset(T value, CudaStream? stream, bool synchronous)
    {
        if (Length == 0)
            return;
        Context.MakeCurrent();
        nuint count = (nuint)Length;
        nint s = CudaStream.HandleOf(stream);
        var (result, call) = sizeof(T) switch
        {
            1 => synchronous
                ? (CuNative.cuMemsetD8_v2(Pointer, *(byte*)&value, count), "cuMemsetD8_v2")
                : (CuNative.cuMemsetD8Async(Pointer, *(byte*)&value, count, s), "cuMemsetD8Async"),
            2 => synchronous
                ? (CuNative.cuMemsetD16_v2(Pointer, *(ushort*)&value, count), "cuMemsetD16_v2")
                : (CuNative.cuMemsetD16Async(Pointer, *(ushort*)&value, count, s), "cuMemsetD16Async"),
            4 => synchronous
                ? (CuNative.cuMemsetD32_v2(Pointer, *(uint*)&value, count), "cuMemsetD32_v2")
                : (CuNative.cuMemsetD32Async(Pointer, *(uint*)&value, count, s), "cuMemsetD32Async"),
            _ => throw new NotSupportedException(
                $"Fill sets elements of 1, 2 or 4 bytes; {typeof(T).Name} has {sizeof(T)}: use a fill kernel"),
        };
        CudaCheck.Ok(result, call);
    }

    private void CheckRange(long offset, long count)
    {
        ThrowIfDisposed();
        if (offset < 0 || count < 0 || offset > Length - count)
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"{count} elements from element {offset} do not fit DeviceBuffer<{typeof(T).Name}>[{Length}]");
    }

    private static nuint Bytes(long count) => (nuint)(count * sizeof(T));

    private CudaException OutOfMemory(CuResult result, long bytes)
    {
        nuint free, total;
        var what = $"DeviceBuffer<{typeof(T).Name}>[{Length}]";
        var hint = CuNative.cuMemGetInfo_v2(&free, &total) == CuResult.Success
            ? CudaErrorHints.OutOfMemory(what, bytes, free, total)
            : $"Requested {ByteSize.Format((ulong)bytes)} for {what}; the free amount could not be read. {CudaErrorHints.For(result)}";
        return CudaCheck.Failure(result, "cuMemAlloc_v2", hint: hint);
    }

    internal override CuResult Release() => pointer == 0 ? CuResult.Success : CuNative.cuMemFree_v2(pointer);

    internal override string ReleaseCall => "cuMemFree_v2";
}
