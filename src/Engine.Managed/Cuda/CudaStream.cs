using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>An in-order queue of GPU work. Pass null where a stream is taken to use the legacy default stream.</summary>
public sealed unsafe class CudaStream : CudaResource
{
    private const uint NonBlockingFlag = 1;
    private readonly nint handle;

    internal CudaStream(CudaContext context, bool nonBlocking) : base(context)
    {
        context.MakeCurrent();
        nint stream;
        CudaCheck.Ok(CuNative.cuStreamCreate(&stream, nonBlocking ? NonBlockingFlag : 0), "cuStreamCreate");
        handle = stream;
        Register();
    }

    /// <summary>The CUstream handle.</summary>
    public nint Handle
    {
        get
        {
            ThrowIfDisposed();
            return handle;
        }
    }

    /// <summary>The handle of a stream argument: 0 (the legacy default stream) for null.</summary>
    internal static nint HandleOf(CudaStream? stream) => stream?.Handle ?? 0;

    /// <summary>Waits until all work queued on this stream has finished.</summary>
    public void Synchronize()
    {
        Context.MakeCurrent();
        CudaCheck.Ok(CuNative.cuStreamSynchronize(Handle), "cuStreamSynchronize");
    }

    /// <summary>True when all queued work has finished; does not wait.</summary>
    public bool IsComplete
    {
        get
        {
            Context.MakeCurrent();
            var result = CuNative.cuStreamQuery(Handle);
            if (result == CuResult.NotReady)
                return false;
            CudaCheck.Ok(result, "cuStreamQuery");
            return true;
        }
    }

    internal override CuResult Release() => CuNative.cuStreamDestroy_v2(handle);

    internal override string ReleaseCall => "cuStreamDestroy_v2";
}
