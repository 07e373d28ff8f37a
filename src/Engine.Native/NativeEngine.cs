using CoAR.Engine.Graph;

namespace CoAR.Engine.Native;

/// <summary>
/// What a coar_engine handle points at: the engine, its info strings for C, and the guard that holds the threading
/// rule (one call at a time per engine: a second concurrent call is refused, never interleaved).
/// </summary>
internal sealed class NativeEngine(CoarEngine engine)
{
    private const int Idle = 0, Freed = -1;
    private int _user;   // Idle, Freed, or the managed thread id of the call in progress
    private string _call = "";

    public CoarEngine Engine { get; } = engine;

    public NativeStrings Strings { get; } = new(
        engine.Backend.Name, engine.Device.FallbackReason, engine.Fingerprint);

    /// <summary>Claims the engine for one call; throws Busy if another call holds it, InvalidHandle once freed.</summary>
    public Claim Enter(string call)
    {
        int me = Environment.CurrentManagedThreadId;
        int holder = Interlocked.CompareExchange(ref _user, me, Idle);
        if (holder == Freed)
            throw new NativeCallException(NativeStatus.InvalidHandle, $"{call}: the engine handle has been freed");
        if (holder != Idle)
            throw new NativeCallException(NativeStatus.Busy, holder == me
                ? $"{call}: the engine is already running {_call} on this thread (called from one of its callbacks?); one call at a time per engine"
                : $"{call}: the engine is in use by {_call} on another thread; use one engine from one thread at a time, or load one engine per thread");
        _call = call;
        return new Claim(this);
    }

    /// <summary>Marks the engine freed if no call holds it, and disposes it.</summary>
    public void Free()
    {
        int holder = Interlocked.CompareExchange(ref _user, Freed, Idle);
        if (holder == Freed)
            throw new NativeCallException(NativeStatus.InvalidHandle, "coar_engine_free: the engine handle has already been freed");
        if (holder != Idle)
            throw new NativeCallException(NativeStatus.Busy, $"coar_engine_free: the engine is in use by {_call}; free it after that call returns");
        Engine.Dispose();
    }

    public readonly struct Claim(NativeEngine owner) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref owner._user, Idle);
    }
}
