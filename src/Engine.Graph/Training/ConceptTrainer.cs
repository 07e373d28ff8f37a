using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// Trains a concept's context tokens through the frozen model (spec: CoAR section 2-3). One step = one subject photo
/// (cycled) for next-token prediction + one class image for dual prior preservation (NTP with the image slots, and
/// KL against the frozen model), their gradients accumulated into the context tokens, plus the CASR pull of the
/// image tokens towards the frozen model's mean image state; then one AdamW update.
/// </summary>
public sealed class ConceptTrainer : IDisposable
{
    private readonly CoarEngine _engine;
    private readonly ChameleonModel _model;
    private readonly IBackend _b;
    private readonly TrainingSettings _s;
    private readonly IReadOnlyList<TrainingExample> _subject;
    private readonly IReadOnlyList<TrainingExample> _classImages;
    private readonly OutputLoss _loss;
    private readonly Concept _concept;
    private readonly AdamW _adam;
    private readonly float[] _casrMean;
    private readonly TrainingPlan _plan;
    private readonly Workspace _activations;
    private KvCache? _cache;

    public ConceptTrainer(CoarEngine engine, TrainingSettings settings, IReadOnlyList<TrainingExample> subject,
        IReadOnlyList<TrainingExample> classImages)
    {
        settings.Validate();
        if (subject.Count == 0) throw new ArgumentException("training needs at least one image of the concept");
        if (settings.Dpp && classImages.Count == 0) throw new ArgumentException("DPP needs class images");
        if (settings.Depth > engine.Model.Config.NumLayers)
            throw new ArgumentOutOfRangeException(nameof(settings), $"depth {settings.Depth} exceeds the model's {engine.Model.Config.NumLayers} layers");
        _engine = engine;
        _model = engine.Model;
        _b = _model.Backend;
        _s = settings;
        _subject = subject;
        _classImages = settings.Dpp ? classImages : [];
        _loss = new OutputLoss(_model);
        int d = _model.Config.HiddenSize;
        _concept = new Concept(settings.Kind, settings.Placeholder, settings.ClassNoun, settings.Depth, settings.TextSlots, settings.ImageSlots, d);
        _adam = new AdamW(_concept.Parameters, settings.LearningRate, settings.Beta1, settings.Beta2, settings.WeightDecay, settings.AdamEps);
        _casrMean = new float[settings.Depth * d];
        _plan = Plan();
        _activations = new Workspace(_b);
        // Size the reusable activation buffers for the longest sequence up front, so no pass reallocates them.
        var longest = ForwardBatch.Single(new int[_plan.MaxTokens]) with { LogitIndices = Enumerable.Range(0, _plan.MaxTokens).ToArray() };
        new TrainingActivations(_b, _model.Config, longest, _plan.Mode, _activations).Dispose();
    }

    public Concept Concept => _concept;
    public TrainingPlan MemoryPlan => _plan;
    public int Step => _adam.Step;
    public StepLosses LastLosses { get; private set; }

    /// <summary>
    /// Sets the starting point from the frozen model: image tokens and the CASR target to the mean hidden state at
    /// each layer's input over the image-code positions of the subject photos; text tokens to the hidden state of the
    /// class noun's last token in the class prompt (a DECISION; the paper leaves it open).
    /// </summary>
    public void Initialize()
    {
        int d = _model.Config.HiddenSize, depth = _s.Depth;
        var sums = new double[depth * d];
        long count = 0;
        foreach (var ex in _subject)
        {
            var prompt = ClassPromptIds(ex.Layout);
            int[] tokens = [.. prompt, .. ex.ImageTokens];
            var codeRows = Enumerable.Range(prompt.Length, ex.ImageTokens.Length).Where(i => ex.Layout.Ids.IsCode(tokens[i])).ToArray();
            var capture = new LayerInputCapture(_b, depth, codeRows);
            RunFrozen(tokens, capture);
            for (int l = 0; l < depth; l++)
                for (int r = 0; r < codeRows.Length; r++)
                    for (int j = 0; j < d; j++)
                        sums[l * d + j] += capture.Rows[l][r * d + j];
            count += codeRows.Length;
        }
        for (int i = 0; i < sums.Length; i++) _casrMean[i] = (float)(sums[i] / count);
        for (int l = 0; l < depth; l++)
            for (int k = 0; k < _s.ImageSlots; k++)
                _casrMean.AsSpan(l * d, d).CopyTo(_concept.ImageVector(l, k));

        if (_s.TextSlots > 0)
        {
            var ids = ClassPromptIds(_subject[0].Layout);
            int noun = Array.LastIndexOf(ids, _engine.Prompt.Vocabulary.EndOfTurn) - 1;
            var capture = new LayerInputCapture(_b, depth, [noun]);
            RunFrozen(ids, capture);
            for (int l = 0; l < depth; l++)
                for (int k = 0; k < _s.TextSlots; k++)
                    capture.Rows[l].AsSpan(0, d).CopyTo(_concept.TextVector(l, k));
        }
    }

    /// <summary>Runs steps until <paramref name="until"/> (or the settings' step count), reporting each.</summary>
    public void Train(int? until = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default,
        Action<int>? afterStep = null)
    {
        int last = until ?? _s.Steps;
        int d = _model.Config.HiddenSize;
        var table = new ContextTable([_concept]);
        using var tableTensor = _b.Allocate(DType.F32, [table.Rows, d], "context_table");
        using var tableGrad = _b.Allocate(DType.F32, [table.Rows, d], "context_grad");
        var gradHost = new float[table.Rows * d];
        var textGrad = new float[_concept.Text.Length];
        var imageGrad = new float[_concept.Image.Length];
        var parameters = new float[_concept.Parameters];
        var gradient = new float[_concept.Parameters];
        while (_adam.Step < last)
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            int step = _adam.Step;
            _b.Upload<float>(table.Values(), tableTensor);
            _b.Zero(tableGrad);
            double ntp = 0, dppNtp = 0, dppKl = 0;
            for (int a = 0; a < _s.Accumulation; a++)
            {
                int pass = step * _s.Accumulation + a;
                ntp += SubjectPass(_subject[pass % _subject.Count], tableTensor, tableGrad, table) / _s.Accumulation;
                if (_s.Dpp)
                {
                    var (n, k) = ClassPass(_classImages[pass % _classImages.Count], tableTensor, tableGrad, table);
                    dppNtp += n / _s.Accumulation;
                    dppKl += k / _s.Accumulation;
                }
            }
            _b.Download<float>(tableGrad, gradHost);
            Array.Clear(textGrad);
            Array.Clear(imageGrad);
            table.AccumulateInto(gradHost, [(textGrad, imageGrad)]);
            double casr = _s.Casr ? AddCasrGradient(imageGrad) : 0;

            _concept.Text.CopyTo(parameters, 0);
            _concept.Image.CopyTo(parameters, _concept.Text.Length);
            textGrad.CopyTo(gradient, 0);
            imageGrad.CopyTo(gradient, textGrad.Length);
            _adam.Update(parameters, gradient);
            parameters.AsSpan(0, _concept.Text.Length).CopyTo(_concept.Text);
            parameters.AsSpan(_concept.Text.Length).CopyTo(_concept.Image);

            double dpp = _s.Lambda1 * dppNtp + _s.Lambda2 * dppKl;
            LastLosses = new StepLosses(ntp, dpp, dppNtp, dppKl, casr, ntp + (_s.Dpp ? _s.Alpha * dpp : 0) + (_s.Casr ? _s.BetaCasr * casr : 0));
            progress?.Report(new TrainingProgress(_adam.Step, _s.Steps, LastLosses, _s.LearningRate, clock.Elapsed, null));
            afterStep?.Invoke(_adam.Step);
        }
    }

    /// <summary>NTP on a subject photo behind "a photo of [V] class" and the image slots; returns the mean cross-entropy.</summary>
    private double SubjectPass(TrainingExample ex, Tensor table, Tensor tableGrad, ContextTable layout)
    {
        var placeholders = _s.TextSlots > 0 ? new[] { new PromptPlaceholder(_s.Placeholder, _s.TextSlots) } : [];
        var prompt = _engine.Prompt.Build(_s.SubjectPrompt, ex.Layout.WidthPx, ex.Layout.HeightPx, placeholders);
        var sequence = ConceptSequence.Build(prompt, [_concept], layout, identityMask: false, _engine.Prompt.SlotFillerId);
        return ContextPass(sequence, ex, table, tableGrad, ntpWeight: 1f, reference: null, klWeight: 0f).CrossEntropy;
    }

    /// <summary>
    /// DPP on a class image: the class prompt (no placeholder) with the concept's image slots, NTP weighted by
    /// alpha * lambda1 and KL(frozen || with context) by alpha * lambda2, the frozen pass having no slots at all.
    /// </summary>
    private (double Ntp, double Kl) ClassPass(TrainingExample ex, Tensor table, Tensor tableGrad, ContextTable layout)
    {
        var classIds = ClassPromptIds(ex.Layout);
        int[] frozenTokens = [.. classIds, .. ex.ImageTokens];
        var frozenBatch = TargetBatch(frozenTokens, classIds.Length, [], new int[frozenTokens.Length]);
        EnsureCache(frozenTokens.Length + _s.ImageSlots);
        var frozenHidden = _model.ForwardHidden(frozenBatch, _cache!);
        using var reference = _b.Allocate(frozenHidden.DType, frozenHidden.Shape, "frozen_hidden");
        _b.Copy(frozenHidden, reference);
        var sequence = ConceptSequence.Build(_engine.Prompt.Build(_s.ClassPrompt, ex.Layout.WidthPx, ex.Layout.HeightPx), [_concept], layout,
            identityMask: false, _engine.Prompt.SlotFillerId);
        var v = ContextPass(sequence, ex, table, tableGrad, _s.Alpha * _s.Lambda1, reference, _s.Alpha * _s.Lambda2);
        return (v.CrossEntropy, v.Kl);
    }

    private OutputLoss.Values ContextPass(ConceptSequence sequence, TrainingExample ex, Tensor table, Tensor tableGrad,
        float ntpWeight, Tensor? reference, float klWeight)
    {
        int[] tokens = [.. sequence.Tokens, .. ex.ImageTokens];
        var tags = new int[tokens.Length];
        sequence.Tags.CopyTo(tags, 0);
        var batch = TargetBatch(tokens, sequence.Tokens.Length, sequence.Injections, tags);
        EnsureCache(tokens.Length);
        using var saved = new TrainingActivations(_b, _model.Config, batch, _plan.Mode, _activations);
        var hidden = _model.ForwardHidden(batch, _cache!, contextTable: table, save: saved);
        var targets = batch.LogitIndices.Select(i => tokens[i + 1]).ToArray();
        using var dHidden = _b.Allocate(hidden.DType, hidden.Shape, "d_hidden");
        var values = _loss.Compute(hidden, targets, ntpWeight, reference, klWeight, dHidden);
        _model.Backward(saved, _cache!, dHidden, tableGrad);
        return values;
    }

    /// <summary>One row from position 0; logits at every position that predicts an image-phase token.</summary>
    private static ForwardBatch TargetBatch(int[] tokens, int imageStart, IReadOnlyList<ContextInjection> injections, int[] tags) =>
        new(tokens, new int[tokens.Length], Enumerable.Range(0, tokens.Length).ToArray(), tags,
            Enumerable.Range(imageStart - 1, tokens.Length - imageStart).ToArray()) { Injections = injections };

    /// <summary>(1/N) sum_l ||image[l] - E[l]||^2 summed over image slots; adds its beta-weighted gradient.</summary>
    private double AddCasrGradient(float[] imageGrad)
    {
        int d = _model.Config.HiddenSize;
        double loss = 0;
        float scale = 2f * _s.BetaCasr / _s.Depth;
        for (int l = 0; l < _s.Depth; l++)
            for (int k = 0; k < _s.ImageSlots; k++)
            {
                var v = _concept.ImageVector(l, k);
                var g = imageGrad.AsSpan((l * _s.ImageSlots + k) * d, d);
                var mean = _casrMean.AsSpan(l * d, d);
                for (int j = 0; j < d; j++)
                {
                    float diff = v[j] - mean[j];
                    loss += (double)diff * diff;
                    g[j] += scale * diff;
                }
            }
        return loss / _s.Depth;
    }

    private int[] ClassPromptIds(ImageLayout layout) => _engine.Prompt.Build(_s.ClassPrompt, layout.WidthPx, layout.HeightPx).Ids;

    private void RunFrozen(int[] tokens, IActivationObserver observer)
    {
        EnsureCache(tokens.Length);
        var batch = ForwardBatch.Single(tokens);
        _model.ForwardHidden(batch, _cache!, observer);
    }

    private void EnsureCache(int tokens)
    {
        if (_cache is not null && _cache.Capacity >= tokens) return;
        _cache?.Dispose();
        _cache = _model.CreateCache(1, Math.Max(tokens, _plan.MaxTokens));
    }

    private TrainingPlan Plan()
    {
        int promptBudget = 96 + _s.TextSlots + _s.ImageSlots;
        int maxTokens = _subject.Concat(_classImages).Max(e => e.ImageTokens.Length) + promptBudget;
        var (free, _) = _b.MemoryInfo();
        return TrainingPlan.For(_model.Config, maxTokens, _b.ActivationType, free, _b.Name);
    }

    // ---- checkpoints: the concept, the optimizer moments and the step, written atomically ----

    public void SaveCheckpoint(string path, string settingsJson) =>
        ConceptFile.Save(path, _concept, _engine.Fingerprint,
            new Dictionary<string, string>
            {
                ["checkpoint_step"] = _adam.Step.ToString(CultureInfo.InvariantCulture),
                ["training_settings"] = settingsJson,
                ["casr_mean_set"] = "true",
            },
            new Dictionary<string, float[]> { ["adam.m"] = _adam.M, ["adam.v"] = _adam.V, ["casr.mean"] = _casrMean });

    /// <summary>Restores a checkpoint written by <see cref="SaveCheckpoint"/> for the same settings; false if it is for other settings.</summary>
    public bool TryResume(string path, string settingsJson, out int step)
    {
        step = 0;
        var info = ConceptFile.Load(path, _engine.Fingerprint, out var extra);
        if (info.Metadata.GetValueOrDefault("training_settings") != settingsJson) return false;
        foreach (var key in new[] { "adam.m", "adam.v", "casr.mean" })
            if (!extra.ContainsKey(key) || !info.Metadata.ContainsKey("checkpoint_step"))
                throw new InvalidDataException($"{path}: not a training checkpoint (no '{key}' or step); delete it or pass --restart");
        var c = info.Concept;
        if (c.Text.Length != _concept.Text.Length || c.Image.Length != _concept.Image.Length) return false;
        c.Text.CopyTo(_concept.Text, 0);
        c.Image.CopyTo(_concept.Image, 0);
        extra["casr.mean"].CopyTo(_casrMean, 0);
        step = int.Parse(info.Metadata["checkpoint_step"], CultureInfo.InvariantCulture);
        _adam.Restore(extra["adam.m"], extra["adam.v"], step);
        return true;
    }

    /// <summary>The final concept file: tokens and what made them.</summary>
    public void SaveConcept(string path, string settingsJson) =>
        ConceptFile.Save(path, _concept, _engine.Fingerprint, new Dictionary<string, string>
        {
            ["training_settings"] = settingsJson,
            ["steps"] = _adam.Step.ToString(CultureInfo.InvariantCulture),
            ["final_losses"] = JsonSerializer.Serialize(new Dictionary<string, double>
            {
                ["ntp"] = LastLosses.Ntp, ["dpp"] = LastLosses.Dpp, ["casr"] = LastLosses.Casr, ["total"] = LastLosses.Total,
            }, TrainingJson.Default.DictionaryStringDouble),
        });

    public void Dispose()
    {
        _cache?.Dispose();
        _loss.Dispose();
        _activations.Dispose();
    }

    /// <summary>Copies the hidden state at chosen positions at the input of each of the first layers of a forward pass.</summary>
    private sealed class LayerInputCapture(IBackend backend, int layers, int[] positions) : IActivationObserver
    {
        public float[][] Rows { get; } = new float[layers][];

        public void Observe(string name, Tensor value)
        {
            int layer;
            if (name == "tok_embd") layer = 0;
            else if (name.StartsWith("blk.", StringComparison.Ordinal) && name.EndsWith(".out", StringComparison.Ordinal))
                layer = int.Parse(name.AsSpan(4, name.Length - 8), CultureInfo.InvariantCulture) + 1;
            else return;
            if (layer >= layers) return;
            int d = value.Dim(1);
            var all = TensorReader.ReadFloats(backend, value);
            var rows = new float[positions.Length * d];
            for (int i = 0; i < positions.Length; i++)
                all.AsSpan(positions[i] * d, d).CopyTo(rows.AsSpan(i * d, d));
            Rows[layer] = rows;
        }
    }
}
