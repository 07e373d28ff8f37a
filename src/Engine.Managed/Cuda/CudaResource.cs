namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Something a <see cref="CudaContext"/> allocated (buffer, stream, event, module). Disposing it frees it now;
/// whatever is still alive when the context is disposed is freed then, so nothing outlives its context.
/// No finalizer: freeing needs the context current on the freeing thread, which a finalizer thread cannot promise.
/// </summary>
public abstract class CudaResource : IDisposable
{
    private LinkedListNode<CudaResource>? registration;

    private protected CudaResource(CudaContext context)
    {
        Context = context;
    }

    public CudaContext Context { get; }

    public bool IsDisposed { get; private set; }

    /// <summary>Called by subclasses once the native object exists, so the context frees it if nobody else does.</summary>
    private protected void Register() => registration = Context.Adopt(this);

    /// <summary>Frees the native object; the context is current. Returns the driver's result so the caller decides.</summary>
    internal abstract Interop.CuResult Release();

    /// <summary>The driver entry point <see cref="Release"/> calls, for the error message.</summary>
    internal abstract string ReleaseCall { get; }

    public void Dispose()
    {
        if (IsDisposed)
            return;
        IsDisposed = true;
        if (registration is not null)
            Context.Forget(registration);
        registration = null;
        Context.MakeCurrent();
        CudaCheck.Ok(Release(), ReleaseCall);
    }

    /// <summary>The context's teardown: free without unregistering (the context is clearing its list).</summary>
    internal Interop.CuResult ReleaseForContext()
    {
        IsDisposed = true;
        registration = null;
        return Release();
    }

    private protected void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
    }
}
