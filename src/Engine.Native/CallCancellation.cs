namespace CoAR.Engine.Native;

/// <summary>
/// The cancellation of one long call: the caller's cancel flag (an int32 another thread may set), polled every few
/// milliseconds, and stops asked for by a callback's return value, both ending in one token the engine checks at its
/// safe points. Dispose waits for a poll in flight, so the flag is never read after the call returns.
/// </summary>
internal sealed unsafe class CallCancellation : IDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);
    private readonly CancellationTokenSource _source = new();
    private readonly int* _flag;
    private readonly Timer? _poll;

    public CallCancellation(int* flag)
    {
        _flag = flag;
        if (flag != null)
            _poll = new Timer(_ => Poll(), null, TimeSpan.Zero, PollInterval);
    }

    public CancellationToken Token => _source.Token;

    /// <summary>Why the call stopped, for its error message.</summary>
    public string Reason { get; private set; } = "cancelled";

    /// <summary>A callback returned nonzero: stop at the next safe point.</summary>
    public void StopFromCallback(string callback)
    {
        Reason = $"stopped: the {callback} callback returned nonzero";
        _source.Cancel();
    }

    private void Poll()
    {
        if (_flag != null && Volatile.Read(ref *_flag) != 0 && !_source.IsCancellationRequested)
        {
            Reason = "cancelled: the cancel flag was set";
            _source.Cancel();
        }
    }

    /// <summary>The flag's state now, checked once more before work starts.</summary>
    public void ThrowIfCancelled()
    {
        Poll();
        if (_source.IsCancellationRequested) throw new OperationCanceledException(Reason);
    }

    public void Dispose()
    {
        if (_poll is not null)
        {
            using var done = new ManualResetEvent(false);
            if (_poll.Dispose(done)) done.WaitOne();
        }
        _source.Dispose();
    }
}
