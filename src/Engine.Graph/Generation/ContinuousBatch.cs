using System.Diagnostics;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// The running batch of continuous batching. Images join at any step: a joining image's prompt prefill is packed into
/// the same forward as the running images' decode tokens. An image leaves the step its last body token is drawn and
/// its KV-cache rows are free for the next at once. Each image has its own rows (conditional, plus unconditional
/// when guided), so images of different sizes, guidance scales and concepts share a forward; every draw is keyed by
/// (image seed, body index), so an image's tokens do not depend on what ran beside it. The KV cache is fixed at
/// construction (<see cref="Rows"/> x <see cref="Positions"/>) and a forward never runs more than
/// <see cref="MaxStepTokens"/> tokens: an image that does not fit now waits (<see cref="CanAdmit"/>). One thread
/// drives a batch; <see cref="GenerationScheduler"/> does so for concurrent callers.
/// </summary>
public sealed class ContinuousBatch : IDisposable
{
    private readonly ChameleonModel _model;
    private readonly KvCache _cache;
    private readonly Workspace _work;
    private readonly GuidedSampler _sampler;
    private readonly SortedSet<int> _freeRows;
    private readonly List<BatchImage> _images = new();

    /// <param name="rows">KV-cache rows: one per unguided image, two per guided one.</param>
    /// <param name="positions">Positions per row: the longest prompt plus the largest image's tokens.</param>
    /// <param name="maxStepTokens">The most tokens one forward may run (the activation memory planned for).</param>
    public ContinuousBatch(ChameleonModel model, int rows, int positions, int maxStepTokens)
    {
        if (maxStepTokens < rows)
            throw new ArgumentOutOfRangeException(nameof(maxStepTokens), maxStepTokens, $"a step must hold at least one token per row ({rows})");
        _model = model;
        _cache = model.CreateCache(rows, positions);
        _work = new Workspace(model.Backend);
        _sampler = new GuidedSampler(model.Backend, _work);
        _freeRows = new SortedSet<int>(Enumerable.Range(0, rows));
        MaxStepTokens = maxStepTokens;
    }

    public int Rows => _cache.Rows;
    public int Positions => _cache.Capacity;
    public int MaxStepTokens { get; }
    public int FreeRows => _freeRows.Count;
    public int ActiveRows => Rows - FreeRows;
    public long KvCacheBytes => _cache.Bytes;

    /// <summary>The images in the batch, in the order they joined.</summary>
    public IReadOnlyList<BatchImage> Images => _images;

    /// <summary>Tokens the next step runs: one per row of each running image, and the prefill of each joining one.</summary>
    public int NextStepTokens => _images.Sum(i => i.Prefilled ? i.Request.Rows : i.Request.PrefillTokens);

    /// <summary>Throws an ArgumentException naming the limit when <paramref name="request"/> could never run in this batch.</summary>
    public void CheckFits(ImageTokenRequest request)
    {
        request.Settings.Validate();
        if (request.Conditional is { } c && !c.Tokens.AsSpan().SequenceEqual(request.PromptTokens))
            throw new ArgumentException("the request's concept sequence does not match its prompt tokens");
        if (request.Positions > Positions)
            throw new ArgumentException($"the prompt and a {request.Layout.WidthPx}x{request.Layout.HeightPx} image take {request.Positions} positions; "
                                        + $"this batch's KV cache holds {Positions} per row");
        if (request.Rows > Rows)
            throw new ArgumentException($"a guided image needs 2 KV-cache rows; this batch has {Rows}");
        // Room to join beside a batch whose other rows all decode, so the image is sure to join one day.
        if (request.PrefillTokens + Rows - request.Rows > MaxStepTokens)
            throw new ArgumentException($"the prompt's prefill is {request.PrefillTokens} tokens; beside {Rows - request.Rows} decoding rows "
                                        + $"that exceeds the {MaxStepTokens} tokens one step may run");
    }

    /// <summary>Whether <paramref name="request"/> can join at the next step: its rows are free and its prefill fits beside the rest.</summary>
    public bool CanAdmit(ImageTokenRequest request) =>
        request.Rows <= FreeRows && NextStepTokens + request.PrefillTokens <= MaxStepTokens;

    /// <summary>Adds an image; its prompt runs at the next <see cref="Step"/>.</summary>
    public BatchImage Admit(ImageTokenRequest request)
    {
        CheckFits(request);
        if (!CanAdmit(request))
            throw new InvalidOperationException($"the batch has no room for the image now ({FreeRows} free rows, {NextStepTokens} of {MaxStepTokens} step tokens taken); wait for CanAdmit");
        int cond = TakeRow();
        int uncond = request.Settings.UsesGuidance ? TakeRow() : -1;
        var image = new BatchImage(request, cond, uncond, Stopwatch.GetTimestamp());
        _images.Add(image);
        return image;
    }

    /// <summary>Takes an image out (cancelled, or failed): its rows are free at once.</summary>
    public void Remove(BatchImage image)
    {
        if (!_images.Remove(image)) return;
        _freeRows.Add(image.CondRow);
        if (image.Guided) _freeRows.Add(image.UncondRow);
    }

    /// <summary>
    /// Runs one forward over every image in the batch and draws each one's next body token. Images whose last token
    /// was drawn leave the batch (<see cref="BatchStep.Finished"/>, with their result). A failing forward fails the
    /// images that joined at this step (the likely cause: a new prompt, the larger forward it needed), or every image
    /// when none joined; an image whose logits leave nothing to draw fails alone. Failed images leave the batch.
    /// </summary>
    public BatchStep Step()
    {
        if (_images.Count == 0) return BatchStep.Empty;
        var order = _images.Where(i => i.Guided).Concat(_images.Where(i => !i.Guided)).ToList();
        long start = Stopwatch.GetTimestamp();
        int tokens;
        int[] next;
        try
        {
            var packed = StepPacker.Pack(order);
            tokens = packed.TokenCount;
            Tensor? table = null;
            if (packed.ContextTable() is { } t)
            {
                table = _work.Get("context_table", DType.F32, t.Rows, t.Hidden);
                _model.Backend.Upload<float>(t.Values, table);
            }
            var logits = _model.Forward(packed.Batch(), _cache, contextTable: table);
            next = _sampler.Sample(logits, order);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var joining = order.Where(i => !i.Prefilled).ToList();
            var failed = (joining.Count > 0 ? joining : order).Select(i => new BatchFailure(i, e)).ToList();
            foreach (var f in failed) Remove(f.Image);
            return new BatchStep([], failed, 0, 0, Stopwatch.GetElapsedTime(start));
        }

        long now = Stopwatch.GetTimestamp();
        var elapsed = Stopwatch.GetElapsedTime(start, now);
        var finished = new List<BatchImage>();
        var failures = new List<BatchFailure>();
        for (int i = 0; i < order.Count; i++)
        {
            var image = order[i];
            if (next[i] < 0)
            {
                failures.Add(new BatchFailure(image, new NonFiniteLogitsException(
                    $"the image with seed {image.Request.Seed}, body token {image.TokensDone}")));
                Remove(image);
                continue;
            }
            if (image.Prefilled)
            {
                image.CondPosition++;
                if (image.Guided) image.UncondPosition++;
            }
            else
            {
                image.Prefilled = true;
                image.CondPosition = image.Request.PromptTokens.Length + 3;
                image.UncondPosition = (image.Request.UnconditionalPrefix?.Tokens.Length ?? 0) + 3;
                image.PrefillTime = elapsed;
                image.PrefilledAt = now;
            }
            image.Add(next[i], now);
            if (image.Complete)
            {
                finished.Add(image);
                Remove(image);
            }
        }
        return new BatchStep(finished, failures, tokens, order.Count - failures.Count, elapsed);
    }

    private int TakeRow()
    {
        int row = _freeRows.Min;
        _freeRows.Remove(row);
        return row;
    }

    public void Dispose()
    {
        _work.Dispose();
        _cache.Dispose();
    }
}

/// <summary>What one step of a <see cref="ContinuousBatch"/> did: images finished and failed, tokens run, tokens drawn.</summary>
public sealed record BatchStep(IReadOnlyList<BatchImage> Finished, IReadOnlyList<BatchFailure> Failed, int Tokens, int Drawn, TimeSpan Elapsed)
{
    public static BatchStep Empty { get; } = new([], [], 0, 0, TimeSpan.Zero);
}

/// <summary>An image that left the batch without finishing, and why.</summary>
public sealed record BatchFailure(BatchImage Image, Exception Error);
