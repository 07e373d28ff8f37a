namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// One image in a <see cref="ContinuousBatch"/>: its request, its KV-cache rows and next positions there, the body
/// tokens drawn so far, and its clock. Created by <see cref="ContinuousBatch.Admit"/>; read-only to everyone else.
/// </summary>
public sealed class BatchImage
{
    private readonly List<int> _body;

    internal BatchImage(ImageTokenRequest request, int condRow, int uncondRow, long admittedAt)
    {
        Request = request;
        CondRow = condRow;
        UncondRow = uncondRow;
        AdmittedAt = admittedAt;
        _body = new List<int>(request.Layout.BodyLength);
    }

    public ImageTokenRequest Request { get; }

    /// <summary>Whether it has unconditional logits to guide with.</summary>
    public bool Guided => UncondRow >= 0;

    public int TokensDone => _body.Count;
    public int TokensTotal => Request.Layout.BodyLength;
    public bool Complete => _body.Count == Request.Layout.BodyLength;

    /// <summary>The finished image's tokens and timings; null until <see cref="Complete"/>.</summary>
    public ImageTokenResult? Result { get; private set; }

    internal int CondRow { get; }
    internal int UncondRow { get; }
    internal int CondPosition { get; set; }
    internal int UncondPosition { get; set; }
    internal bool Prefilled { get; set; }
    internal IReadOnlyList<int> Body => _body;
    internal long AdmittedAt { get; }
    internal TimeSpan PrefillTime { get; set; }
    internal long PrefilledAt { get; set; }

    internal void Add(int token, long now)
    {
        _body.Add(token);
        if (!Complete) return;
        var ids = Request.Layout.Ids;
        int[] tokens = [.. Request.Layout.Header, .. _body, ids.ImageEnd, ids.EndOfTurn];
        var decode = System.Diagnostics.Stopwatch.GetElapsedTime(PrefilledAt, now);
        Result = new ImageTokenResult(tokens, Request.Seed, Request.Layout,
            new GenerationTimings(PrefillTime, decode, TokensTotal, TokensTotal));
    }
}
