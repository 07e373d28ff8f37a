namespace CoAR.Engine.Graph.Generation;

/// <summary>The scheduler's queue has no room for the images: try again once some have run.</summary>
public sealed class SchedulerFullException(int queued, int capacity, int asked)
    : InvalidOperationException($"{queued} images are waiting, the most the queue holds is {capacity}; {asked} more do not fit")
{
    public int Queued { get; } = queued;
    public int Capacity { get; } = capacity;
}

/// <summary>The scheduler stopped accepting images (it is draining or disposed).</summary>
public sealed class SchedulerClosedException()
    : InvalidOperationException("the scheduler no longer accepts images: it is shutting down");
