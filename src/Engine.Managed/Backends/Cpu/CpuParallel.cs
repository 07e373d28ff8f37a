namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>Splits a range of independent items over the cores, or runs it inline when it is too small to pay.</summary>
internal static class CpuParallel
{
    /// <summary>Below this many scalar operations in total, a parallel loop costs more than it saves.</summary>
    private const long MinParallelWork = 1 << 15;

    public static void For(int count, long workPerItem, Action<int, int> body)
    {
        if (count <= 0) return;
        int workers = Environment.ProcessorCount;
        if (workers == 1 || count == 1 || count * Math.Max(1, workPerItem) < MinParallelWork)
        {
            body(0, count);
            return;
        }
        // A few chunks per core balances uneven items (causal attention rows) without per-item overhead.
        int chunks = Math.Min(count, workers * 4);
        Parallel.For(0, chunks, c =>
        {
            int start = (int)((long)count * c / chunks);
            int end = (int)((long)count * (c + 1) / chunks);
            body(start, end);
        });
    }
}
