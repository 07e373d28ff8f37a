using System.Collections.Concurrent;
using System.Diagnostics;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// Wall time and calls per CPU backend op, collected while <see cref="Enabled"/> (environment COAR_PROFILE=1, or
/// `coar bench --train --profile`): where a training step or an image's time goes, op by op. Only the outermost op
/// on a thread is timed, so an op that calls another is not counted twice. Off, an op pays one branch.
/// </summary>
public static class CpuOpProfile
{
    private static readonly ConcurrentDictionary<string, Counter> s_ops = new(StringComparer.Ordinal);
    [ThreadStatic] private static int t_depth;

    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("COAR_PROFILE") == "1";

    /// <summary>Starts timing <paramref name="op"/>; disposing the scope adds the elapsed time to its counter.</summary>
    public static Scope Time(string op)
    {
        if (!Enabled) return default;
        return t_depth++ == 0 ? new Scope(op, Stopwatch.GetTimestamp()) : new Scope(null, -1);
    }

    /// <summary>Every op timed since the last <see cref="Reset"/>, the most expensive first.</summary>
    public static IReadOnlyList<OpTime> Snapshot() =>
        s_ops.Select(e => new OpTime(e.Key, Interlocked.Read(ref e.Value.Calls), Interlocked.Read(ref e.Value.Ticks) / (double)Stopwatch.Frequency))
            .OrderByDescending(o => o.Seconds).ToList();

    public static void Reset() => s_ops.Clear();

    public readonly struct Scope : IDisposable
    {
        private readonly string? _op;
        private readonly long _start;

        internal Scope(string? op, long start)
        {
            _op = op;
            _start = start;
        }

        public void Dispose()
        {
            if (_start == 0) return; // profiling was off when the op started
            t_depth--;
            if (_op is null) return;
            var counter = s_ops.GetOrAdd(_op, _ => new Counter());
            Interlocked.Increment(ref counter.Calls);
            Interlocked.Add(ref counter.Ticks, Stopwatch.GetTimestamp() - _start);
        }
    }

    private sealed class Counter
    {
        public long Calls;
        public long Ticks;
    }
}

/// <summary>One op's share of a profile: how often it ran and its total wall time.</summary>
public readonly record struct OpTime(string Op, long Calls, double Seconds);
