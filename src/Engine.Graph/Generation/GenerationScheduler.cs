namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// Continuous batching for concurrent callers. Submitted images wait in a queue (bounded: beyond
/// <see cref="MaxQueuedImages"/> a submission is refused with <see cref="SchedulerFullException"/>) and join the
/// running <see cref="ContinuousBatch"/> at the next step that has room for them under the <see cref="Plan"/>; a
/// finished image leaves at once, is decoded to pixels and its task completes. One worker thread owns the batch,
/// the model and the VQGAN (the backends are not thread-safe); callers only queue and wait. A caller's cancellation
/// takes its images out of the queue, or out of the batch at the next step (their KV rows freed). A request that
/// fails (a bad prompt is refused at <see cref="Submit"/>; a failure while running fails that request's images)
/// never stops the worker.
/// </summary>
public sealed class GenerationScheduler : IDisposable
{
    private readonly ImageGenerator _generator;
    private readonly ContinuousBatch _batch;
    private readonly object _gate = new();
    private readonly LinkedList<Entry> _queue = new();
    private readonly Dictionary<BatchImage, Entry> _running = new();
    private readonly Thread _worker;
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed, _disposed;
    private int _activeImages, _activeRows;
    private long _completed, _failed, _cancelled, _tokens, _steps;

    public GenerationScheduler(ImageGenerator generator, SchedulerPlan plan, int maxQueuedImages = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueuedImages, 1);
        _generator = generator;
        Plan = plan;
        MaxQueuedImages = maxQueuedImages;
        _batch = new ContinuousBatch(generator.Model, plan.Rows, plan.Positions, plan.StepTokens);
        _worker = new Thread(Run) { IsBackground = true, Name = "coar-scheduler" };
        _worker.Start();
    }

    public SchedulerPlan Plan { get; }
    public int MaxQueuedImages { get; }

    /// <summary>Completes once <see cref="Close"/> was called and no image waits or runs any more.</summary>
    public Task Idle => _idle.Task;

    public Task<GeneratedImage> SubmitAsync(ImagePrompt prompt, IProgress<ImageProgress>? progress = null, CancellationToken cancellation = default) =>
        Submit([prompt], progress, cancellation)[0];

    /// <summary>
    /// Queues images, all or none: an ArgumentException names what is wrong with a prompt (or which limit of the plan
    /// it exceeds), a <see cref="SchedulerFullException"/> says the queue has no room for all of them, a
    /// <see cref="SchedulerClosedException"/> that the scheduler is shutting down. Each task completes with its image,
    /// fails with what went wrong with it, or is cancelled by <paramref name="cancellation"/>.
    /// </summary>
    /// <param name="progress">Called on the worker thread: keep it short.</param>
    public IReadOnlyList<Task<GeneratedImage>> Submit(IReadOnlyList<ImagePrompt> prompts, IProgress<ImageProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var entries = new List<Entry>(prompts.Count);
        for (int i = 0; i < prompts.Count; i++)
        {
            var request = _generator.Prepare(prompts[i]);
            CheckPlan(prompts[i], request);
            entries.Add(new Entry(this, prompts[i], request, i, progress, cancellation));
        }
        // Registered before queueing: a cancellation in between marks the entry, and the worker drops it on admission.
        foreach (var e in entries)
            e.Registration = cancellation.UnsafeRegister(static (state, _) => ((Entry)state!).Owner.Cancel((Entry)state!), e);
        lock (_gate)
        {
            var refusal = _closed ? new SchedulerClosedException()
                : _queue.Count + entries.Count > MaxQueuedImages ? new SchedulerFullException(_queue.Count, MaxQueuedImages, entries.Count)
                : (Exception?)null;
            if (refusal is not null)
            {
                foreach (var e in entries) e.Registration.Unregister();
                throw refusal;
            }
            foreach (var e in entries) e.Node = _queue.AddLast(e);
            Monitor.PulseAll(_gate);
        }
        return entries.Select(e => e.Completion.Task).ToList();
    }

    private void CheckPlan(ImagePrompt prompt, ImageTokenRequest request)
    {
        if (prompt.Width > Plan.MaxWidth || prompt.Height > Plan.MaxHeight)
            throw new ArgumentException($"size {prompt.Width}x{prompt.Height} is larger than the {Plan.MaxWidth}x{Plan.MaxHeight} this scheduler was planned for");
        int promptTokens = Math.Max(request.PromptTokens.Length, request.UnconditionalPrefix?.Tokens.Length ?? 0);
        if (promptTokens > Plan.MaxPromptTokens)
            throw new ArgumentException($"the prompt is {promptTokens} tokens, more than the {Plan.MaxPromptTokens} this scheduler was planned for");
        _batch.CheckFits(request);
    }

    /// <summary>What the scheduler holds and has done, now.</summary>
    public SchedulerStats Stats()
    {
        lock (_gate)
            return new SchedulerStats(_queue.Count, Volatile.Read(ref _activeImages), Volatile.Read(ref _activeRows), _batch.Rows,
                Interlocked.Read(ref _completed), Interlocked.Read(ref _failed), Interlocked.Read(ref _cancelled),
                Interlocked.Read(ref _tokens), Interlocked.Read(ref _steps), _batch.KvCacheBytes);
    }

    /// <summary>Stops accepting images; those queued and running go on (see <see cref="Idle"/>).</summary>
    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Cancels every image queued or running (their tasks end cancelled).</summary>
    public void CancelAll()
    {
        lock (_gate)
        {
            foreach (var e in _queue.ToList()) CancelLocked(e);
            foreach (var e in _running.Values) e.CancelRequested = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void Cancel(Entry entry)
    {
        lock (_gate) CancelLocked(entry);
    }

    private void CancelLocked(Entry entry)
    {
        if (entry.Completion.Task.IsCompleted) return;
        if (entry.Node?.List is not null)
        {
            _queue.Remove(entry.Node);
            Interlocked.Increment(ref _cancelled);
            entry.Cancel();
        }
        else
            entry.CancelRequested = true; // running: the worker frees its rows before the next step
        Monitor.PulseAll(_gate);
    }

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                foreach (var (image, e) in _running.Where(kv => kv.Value.CancelRequested).ToList())
                {
                    _batch.Remove(image);
                    _running.Remove(image);
                    Interlocked.Increment(ref _cancelled);
                    e.Cancel();
                }
                while (_queue.First is { } first && _batch.CanAdmit(first.Value.Request))
                {
                    var e = first.Value;
                    _queue.RemoveFirst();
                    if (e.CancelRequested)
                    {
                        Interlocked.Increment(ref _cancelled);
                        e.Cancel();
                        continue;
                    }
                    try
                    {
                        _running[_batch.Admit(e.Request)] = e;
                    }
                    catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                    {
                        Interlocked.Increment(ref _failed);
                        e.Fail(ex);
                    }
                }
                Volatile.Write(ref _activeImages, _running.Count);
                Volatile.Write(ref _activeRows, _batch.ActiveRows);
                if (_running.Count == 0)
                {
                    if (_closed && _queue.Count == 0)
                    {
                        _idle.TrySetResult();
                        if (_disposed) return;
                    }
                    Monitor.Wait(_gate);
                    continue;
                }
            }
            RunStep();
        }
    }

    private void RunStep()
    {
        var step = _batch.Step();
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _tokens, step.Drawn);
        foreach (var failure in step.Failed)
        {
            if (!Take(failure.Image, out var e)) continue;
            Interlocked.Increment(ref _failed);
            e.Fail(failure.Error);
        }
        foreach (var image in step.Finished)
        {
            if (!Take(image, out var e)) continue;
            e.Report(ImageStage.Decoding, image);
            try
            {
                var generated = _generator.Decode(e.Prompt, e.Request, image.Result!);
                Interlocked.Increment(ref _completed);
                e.Complete(generated);
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _failed);
                e.Fail(ex);
            }
        }
        foreach (var (image, e) in _running.ToList())
            e.Report(ImageStage.Running, image);
    }

    private bool Take(BatchImage image, out Entry entry)
    {
        lock (_gate)
        {
            if (!_running.Remove(image, out entry!)) return false;
            Volatile.Write(ref _activeImages, _running.Count);
            Volatile.Write(ref _activeRows, _batch.ActiveRows);
            return true;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _closed = true;
        }
        CancelAll();
        _worker.Join();
        _batch.Dispose();
    }

    private sealed class Entry(GenerationScheduler owner, ImagePrompt prompt, ImageTokenRequest request, int index,
        IProgress<ImageProgress>? progress, CancellationToken cancellation)
    {
        public GenerationScheduler Owner { get; } = owner;
        public ImagePrompt Prompt { get; } = prompt;
        public ImageTokenRequest Request { get; } = request;
        public TaskCompletionSource<GeneratedImage> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<Entry>? Node { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
        public bool CancelRequested { get; set; }

        public void Report(ImageStage stage, BatchImage image)
        {
            try
            {
                progress?.Report(new ImageProgress(index, stage, image.TokensDone, image.TokensTotal));
            }
            catch (Exception)
            {
                // A caller's progress handler must not stop the worker; it is the caller's to fix.
            }
        }

        public void Complete(GeneratedImage image)
        {
            Registration.Unregister();
            Completion.TrySetResult(image);
        }

        public void Fail(Exception error)
        {
            Registration.Unregister();
            Completion.TrySetException(error);
        }

        public void Cancel()
        {
            Registration.Unregister();
            Completion.TrySetCanceled(cancellation.IsCancellationRequested ? cancellation : new CancellationToken(true));
        }
    }
}

/// <summary>A snapshot of a <see cref="GenerationScheduler"/>: images waiting and running, rows in use, totals so far.</summary>
public sealed record SchedulerStats(int QueuedImages, int ActiveImages, int ActiveRows, int Rows, long ImagesCompleted, long ImagesFailed,
    long ImagesCancelled, long TokensGenerated, long Steps, long KvCacheBytes);
