namespace CoAR.Engine.Tests;

/// <summary>Reports on the calling thread, at once (Progress&lt;T&gt; posts to the thread pool and may report after the call returns).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
