using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>A marker in a stream: record it, wait for it, and time the work between two of them.</summary>
public sealed unsafe class CudaEvent : CudaResource
{
    private const uint DisableTimingFlag = 2;
    private readonly nint handle;

    internal CudaEvent(CudaContext context, bool timing) : base(context)
    {
        context.MakeCurrent();
        nint created;
        CudaCheck.Ok(CuNative.cuEventCreate(&created, timing ? 0 : DisableTimingFlag), "cuEventCreate");
        handle = created;
        Register();
    }

    public nint Handle
    {
        get
        {
            ThrowIfDisposed();
            return handle;
        }
    }

    /// <summary>Marks the point in the stream's queue (null: the legacy default stream) the event completes at.</summary>
    public void Record(CudaStream? stream = null)
    {
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuEventRecord(Handle, CudaStream.HandleOf(stream)), "cuEventRecord");
    }

    /// <summary>Waits until the work before the recorded point has finished.</summary>
    public void Synchronize()
    {
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuEventSynchronize(Handle), "cuEventSynchronize");
    }

    /// <summary>GPU time between two recorded events (both created with timing on), in milliseconds.</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        end.Context.MakeCurrent();
        float milliseconds;
        CudaCheck.Ok(CuNative.cuEventElapsedTime(&milliseconds, start.Handle, end.Handle), "cuEventElapsedTime");
        return milliseconds;
    }

    internal override CuResult Release() => CuNative.cuEventDestroy_v2(handle);

    internal override string ReleaseCall => "cuEventDestroy_v2";
}
