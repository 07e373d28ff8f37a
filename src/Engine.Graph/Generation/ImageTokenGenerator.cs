using System.Diagnostics;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Generation;

/// <summary>
/// Generates image tokens for a batch of images in lock step. Each image has a conditional row (its prompt, then the
/// image) and, when guidance is on, an unconditional row ([start, h, w, ...] from position 0, no BOS, no prompt) fed
/// the same image tokens; all rows run in one forward per step. Per step, on the fp32 logits: CFG, the layout
/// constraint, top-k, temperature, and a draw keyed by (image seed, body index), so an image's tokens do not depend
/// on its batch neighbours.
/// </summary>
public sealed class ImageTokenGenerator(ChameleonModel model)
{
    private readonly IBackend _b = model.Backend;

    public GenerationTimings? LastTimings { get; private set; }

    /// <param name="contextTable">The concepts' context tokens [rows, D] F32 that the requests' slots read, or null.</param>
    public IReadOnlyList<ImageTokenResult> Generate(IReadOnlyList<ImageTokenRequest> requests,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellation = default, Tensor? contextTable = null)
    {
        if (requests.Count == 0) return [];
        foreach (var r in requests) r.Settings.Validate();
        bool guided = requests[0].Settings.UsesGuidance;
        if (requests.Any(r => r.Settings.UsesGuidance != guided))
            throw new ArgumentException("a batch must be all guided (cfg != 1) or all unguided (cfg = 1); generate them in separate batches");

        int m = requests.Count;
        var images = requests.Select((r, i) => new ImageState(r, condRow: i, uncondRow: guided ? m + i : -1)).ToArray();
        int rows = guided ? 2 * m : m;
        int capacity = images.Max(s => Math.Max(s.Request.PromptTokens.Length, s.Request.UnconditionalPrefix?.Tokens.Length ?? 0)
                                        + s.Request.Layout.SequenceLength);
        using var cache = model.CreateCache(rows, capacity);
        using var work = new Workspace(_b);
        var clock = Stopwatch.StartNew();

        // Prefill: every conditional prompt with its image header, and every unconditional header, in one pass.
        var prefill = new PrefillBuilder();
        foreach (var s in images)
            s.CondPosition = prefill.AddRow(s.CondRow, s.Request.PromptTokens, s.Request.Conditional, s.Request.Layout.Header);
        if (guided)
            foreach (var s in images)
                s.UncondPosition = prefill.AddRow(s.UncondRow, s.Request.UnconditionalPrefix?.Tokens ?? [], s.Request.UnconditionalPrefix, s.Request.Layout.Header);
        var logits = model.Forward(prefill.Build(), cache, contextTable: contextTable);
        var prefillTime = clock.Elapsed;

        int steps = images.Max(s => s.Request.Layout.BodyLength);
        long total = images.Sum(s => (long)s.Request.Layout.BodyLength), done = 0;
        var active = images.ToList();
        for (int step = 0; step < steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            // Logit rows come as [cond of each active image..., uncond of each active image...].
            var next = Sample(logits, active, guided, work);
            for (int i = 0; i < active.Count; i++) active[i].Body.Add(next[i]);
            done += active.Count;
            progress?.Report(new GenerationProgress(step + 1, steps, done, total, clock.Elapsed));

            // Feed the new tokens of images that still need logits for another body token.
            var feeding = active.Where(s => s.Body.Count < s.Request.Layout.BodyLength).ToList();
            if (feeding.Count == 0) break;
            logits = model.Forward(StepBatch(feeding, guided), cache);
            active = feeding;
        }
        var decodeTime = clock.Elapsed - prefillTime;
        LastTimings = new GenerationTimings(prefillTime, decodeTime, steps, total);

        return images.Select(s =>
        {
            var ids = s.Request.Layout.Ids;
            int[] tokens = [.. s.Request.Layout.Header, .. s.Body, ids.ImageEnd, ids.EndOfTurn];
            return new ImageTokenResult(tokens, s.Request.Seed, s.Request.Layout);
        }).ToList();
    }

    /// <summary>Packs rows of prompt + header tokens, with their identity tags and context slots, logits at each row's end.</summary>
    private sealed class PrefillBuilder
    {
        private readonly List<int> _tokens = new(), _rows = new(), _positions = new(), _tags = new(), _logits = new();
        private readonly List<ContextInjection> _injections = new();

        /// <returns>The row's length (the position of its next token).</returns>
        public int AddRow(int row, int[] prompt, Concepts.ConceptSequence? concepts, int[] header)
        {
            int offset = _tokens.Count;
            if (concepts is not null && !concepts.Tokens.AsSpan().SequenceEqual(prompt))
                throw new ArgumentException("a request's concept sequence does not match its prompt tokens");
            int[] all = [.. prompt, .. header];
            for (int i = 0; i < all.Length; i++)
            {
                _tokens.Add(all[i]);
                _rows.Add(row);
                _positions.Add(i);
                _tags.Add(concepts is not null && i < concepts.Tags.Length ? concepts.Tags[i] : 0);
            }
            if (concepts is not null) _injections.AddRange(concepts.InjectionsAt(offset));
            _logits.Add(_tokens.Count - 1);
            return all.Length;
        }

        public ForwardBatch Build() =>
            new(_tokens.ToArray(), _rows.ToArray(), _positions.ToArray(), _tags.ToArray(), _logits.ToArray()) { Injections = _injections.ToArray() };
    }

    private sealed class ImageState(ImageTokenRequest request, int condRow, int uncondRow)
    {
        public ImageTokenRequest Request { get; } = request;
        public int CondRow { get; } = condRow;
        public int UncondRow { get; } = uncondRow;
        public int CondPosition { get; set; }
        public int UncondPosition { get; set; }
        public List<int> Body { get; } = new(request.Layout.BodyLength);
    }

    private static ForwardBatch StepBatch(List<ImageState> feeding, bool guided)
    {
        int n = feeding.Count, t = guided ? 2 * n : n;
        var tokens = new int[t];
        var rows = new int[t];
        var positions = new int[t];
        for (int i = 0; i < n; i++)
        {
            var s = feeding[i];
            int token = s.Body[^1];
            tokens[i] = token;
            rows[i] = s.CondRow;
            positions[i] = s.CondPosition++;
            if (guided)
            {
                tokens[n + i] = token;
                rows[n + i] = s.UncondRow;
                positions[n + i] = s.UncondPosition++;
            }
        }
        return new ForwardBatch(tokens, rows, positions, new int[t], Enumerable.Range(0, t).ToArray());
    }

    private int[] Sample(Tensor logits, List<ImageState> active, bool guided, Workspace work)
    {
        int n = active.Count;
        var cond = logits.Rows(0, n);
        if (guided)
        {
            var scales = work.Get("cfg_scales", DType.F32, n);
            _b.Upload<float>(active.Select(s => s.Request.Settings.Cfg).ToArray(), scales);
            _b.CfgCombine(cond, logits.Rows(n, n), scales, cond);
        }
        var rules = new int[3 * n];
        var topK = new int[n];
        var temperature = new float[n];
        var keys = new int[4 * n];
        for (int i = 0; i < n; i++)
        {
            var s = active[i];
            var (forced, from, to) = s.Request.Layout.RuleFor(s.Body.Count);
            (rules[3 * i], rules[3 * i + 1], rules[3 * i + 2]) = (forced, from, to);
            topK[i] = s.Request.Settings.ImageTopK;
            temperature[i] = s.Request.Settings.Temperature;
            ulong seed = s.Request.Seed;
            (keys[4 * i], keys[4 * i + 1], keys[4 * i + 2], keys[4 * i + 3]) = ((int)(uint)seed, (int)(uint)(seed >> 32), s.Body.Count, 0);
        }
        var rulesT = work.Get("rules", DType.I32, n, 3);
        var topKT = work.Get("top_k", DType.I32, n);
        var tempT = work.Get("temperature", DType.F32, n);
        var keysT = work.Get("rng_keys", DType.I32, n, 4);
        var outT = work.Get("sampled", DType.I32, n);
        _b.Upload<int>(rules, rulesT);
        _b.Upload<int>(topK, topKT);
        _b.Upload<float>(temperature, tempT);
        _b.Upload<int>(keys, keysT);
        _b.ConstrainLogits(cond, rulesT);
        _b.SampleTopK(cond, topKT, tempT, keysT, outT);
        var next = new int[n];
        _b.Download<int>(outT, next);
        for (int i = 0; i < n; i++)
            if (next[i] < 0)
                throw new InvalidOperationException(
                    $"sampling found no token for the image with seed {active[i].Request.Seed} at body token {active[i].Body.Count}: its logits were all -inf or NaN");
        return next;
    }
}
