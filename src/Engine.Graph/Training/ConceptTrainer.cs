using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// Trains a concept's context tokens through the frozen model (spec: CoAR sections 2-3). One step averages K passes
/// (K = <see cref="TrainingSettings.Accumulation"/>), each one subject image for next-token prediction and one class
/// image for dual prior preservation (NTP with the image slots, and KL against the frozen model), and adds the CASR
/// pull of the image tokens towards the frozen model's mean image state:
/// L = (1/K) sum_k [NTP_k + alpha (lambda1 NTP^c_k + lambda2 KL_k)] + beta CASR, every NTP term with Lumina's z-loss.
/// The update applies exactly the gradient of that L (the loss it reports), clipped by its global norm, through AdamW
/// at the scheduled learning rate. Which images a pass draws, and their crops, are pure functions of (seed, pass).
/// With <see cref="TrainingSettings.Weights"/> the same passes, losses, optimizer, checkpoints and validation images
/// also train backbone weights (<see cref="TrainedWeights"/>): LoRA adapters instead of a concept
/// (<see cref="TrainingMethod.Lora"/>: no context slots, no CASR), or LoRA or the full weights together with a concept
/// continued from an earlier run (PersonalAR stage 2). The frozen model of the KL term runs without them.
/// </summary>
public sealed class ConceptTrainer : IDisposable
{
    private readonly CoarEngine _engine;
    private readonly ChameleonModel _model;
    private readonly IBackend _b;
    private readonly TrainingSettings _s;
    private readonly TrainingImages _subject;
    private readonly IReadOnlyList<TrainingExample> _classImages;
    private readonly ImageTokenIds _ids;
    private readonly OutputLoss _loss;
    private readonly Concept? _concept;
    private readonly AdamW _adam;
    private readonly float[] _casrMean;
    private readonly TrainingPlan _plan;
    private readonly Workspace _activations;
    private readonly TrainedWeights? _weights;
    private readonly bool _continued;
    private readonly IReadOnlyList<int[]> _referenceTokens;
    private KvCache? _cache;

    public ConceptTrainer(CoarEngine engine, TrainingSettings settings, IReadOnlyList<TrainingExample> subject,
        IReadOnlyList<TrainingExample> classImages)
        : this(engine, settings, TrainingImages.FromExamples(subject), classImages)
    {
    }

    /// <param name="settings">Resolved for this engine's model here (<see cref="TrainingSettings.Resolve"/>): an unset depth becomes the kind's default.</param>
    /// <param name="references">The encoded images of <see cref="TrainingSettings.References"/>, in order (none when it is null).</param>
    /// <param name="start">
    /// The concept to continue from instead of initializing one (PersonalAR stage 2 continues stage 1's [V]); it must
    /// have the settings' kind, placeholder, depth and slots. It is copied, not changed.
    /// </param>
    public ConceptTrainer(CoarEngine engine, TrainingSettings settings, TrainingImages subject, IReadOnlyList<TrainingExample> classImages,
        IReadOnlyList<ReferenceImage>? references = null, Concept? start = null)
    {
        (_s, Notes) = settings.Resolve(engine.Model.Config, engine.Prompt);
        if (_s.Dpp && classImages.Count == 0) throw new ArgumentException("DPP needs class images");
        References = references ?? [];
        if (References.Count != (_s.References?.Length ?? 0))
            throw new ArgumentException($"the settings name {_s.References?.Length ?? 0} reference image(s) but {References.Count} are given");
        _referenceTokens = References.Select(r => r.Tokens).ToList();
        _engine = engine;
        _model = engine.Model;
        _b = _model.Backend;
        _subject = subject;
        _classImages = _s.Dpp ? classImages : [];
        _ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        _loss = _s.NtpTargets == NtpTargets.Codes
            ? new OutputLoss(_model, head: _model.Weights.LmHead.Rows(_ids.FirstCode, _ids.CodeCount))
            : new OutputLoss(_model);
        int d = _model.Config.HiddenSize, depth = _s.EffectiveDepth;
        if (_s.TrainsConcept)
        {
            // An index embedding starts at zero: training starts from the concept without it.
            _concept = new Concept(_s.Kind, _s.Placeholder, _s.ClassNoun, depth, _s.TextSlots, _s.ImageSlots, d, index: _s.IndexEmbedding ? new float[d] : null);
            if (start is not null)
            {
                if (start.Kind != _concept.Kind || start.Placeholder != _concept.Placeholder || start.Depth != depth || start.TextSlots != _s.TextSlots
                    || start.ImageSlots != _s.ImageSlots || start.Hidden != d || (start.Index is null) == _s.IndexEmbedding)
                    throw new ArgumentException($"the concept to continue from ({start.Kind} {start.Placeholder}, depth {start.Depth}, {start.TextSlots} text + " +
                        $"{start.ImageSlots} image tokens) does not have this run's shape ({_s.Kind} {_s.Placeholder}, depth {depth}, {_s.TextSlots} + {_s.ImageSlots})", nameof(start));
                var values = new float[start.Parameters];
                start.ReadParameters(values);
                _concept.WriteParameters(values);
                _continued = true;
            }
        }
        else if (start is not null)
            throw new ArgumentException($"a {_s.Method} run trains no concept to continue", nameof(start));
        if (_s.Weights != WeightTraining.None)
        {
            if (_model.Adapter is not null || engine.AppliedLora != LoraMode.None || engine.AppliedProjections)
                throw new InvalidOperationException("the engine has adapters or fine-tuned weights applied; training weights starts from the plain base model (load a new engine)");
            _weights = TrainedWeights.Create(_model, _s);
            _model.Adapter = _weights.Device;
        }
        _adam = new AdamW(Parameters, _s.Beta1, _s.Beta2, _s.WeightDecay, _s.AdamEps);
        _casrMean = new float[_concept is null ? 0 : depth * d];
        _plan = Plan();
        _activations = new Workspace(_b);
        // Size the reusable activation buffers for the longest sequence up front, so no pass reallocates them.
        var longest = ForwardBatch.Single(new int[_plan.MaxTokens]) with { LogitIndices = Enumerable.Range(0, _plan.MaxTokens).ToArray() };
        new TrainingActivations(_b, _model.Config, longest, _plan.Mode, _activations).Dispose();
    }

    /// <summary>The settings this trainer runs with (depth and resolution made concrete).</summary>
    public TrainingSettings Settings => _s;

    /// <summary>What resolving the settings against the model changed (a clamped default depth), to tell the user.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The concept being trained (every method but <see cref="TrainingMethod.Lora"/>).</summary>
    public Concept Concept => _concept ?? throw new InvalidOperationException("a LoRA run trains no concept (see Lora)");

    /// <summary>Whether the run trains a concept (<see cref="Concept"/>).</summary>
    public bool HasConcept => _concept is not null;

    /// <summary>The backbone weights being trained (<see cref="TrainingSettings.Weights"/>); null when the backbone stays frozen.</summary>
    public TrainedWeights? Weights => _weights;

    /// <summary>The LoRA adapter being trained, if the run trains one.</summary>
    public LoraAdapter? Lora => (_weights as TrainedWeights.Lora)?.Adapter;

    /// <summary>Trainable parameters: the concept's context tokens, then the trained weights (LoRA's A and B, or full weights).</summary>
    public int Parameters => (_concept?.Parameters ?? 0) + checked((int)(_weights?.Parameters ?? 0));

    private int ConceptParameters => _concept?.Parameters ?? 0;

    /// <summary>The images in the training prompt (<see cref="TrainingSettings.References"/>, encoded).</summary>
    public IReadOnlyList<ReferenceImage> References { get; }

    public TrainingPlan MemoryPlan => _plan;
    public int Step => _adam.Step;
    public StepLosses LastLosses { get; private set; }

    /// <summary>
    /// Sets the starting point from the frozen model: image tokens and the CASR target to the mean hidden state at
    /// each layer's input over the image-code positions of the subject images (center crops); text tokens to the
    /// hidden state of the class noun's last token in the class prompt (a DECISION; the paper leaves it open), or with
    /// <see cref="TextInit.Random"/> to seeded Gaussian vectors at the scale of the class prompt's token embeddings.
    /// </summary>
    public void Initialize()
    {
        // Trained weights start as made in the constructor: LoRA as PEFT starts it (B = 0), full weights unchanged.
        if (_concept is null) return;
        int d = _model.Config.HiddenSize, depth = Concept.Depth;
        // A continued concept keeps its tokens; CASR still needs its target.
        if ((_s.ImageSlots > 0 && !_continued) || _s.Casr)
            InitializeImageTokens();
        if (_s.TextSlots == 0 || _continued) return;
        var ids = ClassPromptIds(_subject.Centered(0).Layout);
        if (_s.TextInit == TextInit.Random)
        {
            // The scale of a real token: the RMS of the class prompt's embeddings (the states at the input of layer 0).
            var embeddings = new LayerInputCapture(_b, 1, Enumerable.Range(0, ids.Length).ToArray());
            RunFrozen(ids, embeddings);
            double squares = 0;
            foreach (float v in embeddings.Rows[0]) squares += (double)v * v;
            double scale = Math.Sqrt(squares / embeddings.Rows[0].Length);
            for (int i = 0; i < Concept.Text.Length; i++)
                Concept.Text[i] = (float)(scale * TrainingDraws.Normal(_s.Seed, TrainingDraws.Stream.TextInit, i));
            return;
        }
        int noun = Array.LastIndexOf(ids, _engine.Prompt.Vocabulary.EndOfTurn) - 1;
        var capture = new LayerInputCapture(_b, depth, [noun]);
        RunFrozen(ids, capture);
        for (int l = 0; l < depth; l++)
            for (int k = 0; k < _s.TextSlots; k++)
                capture.Rows[l].AsSpan(0, d).CopyTo(Concept.TextVector(l, k));
    }

    /// <summary>Image tokens and the CASR target: the frozen model's mean state over the subject images' codes, layer by layer.</summary>
    private void InitializeImageTokens()
    {
        int d = _model.Config.HiddenSize, depth = Concept.Depth;
        var sums = new double[depth * d];
        long count = 0;
        for (int item = 0; item < _subject.Count; item++)
        {
            var ex = _subject.Centered(item);
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
        if (_continued) return;
        for (int l = 0; l < depth; l++)
            for (int k = 0; k < _s.ImageSlots; k++)
                _casrMean.AsSpan(l * d, d).CopyTo(Concept.ImageVector(l, k));
    }

    /// <summary>Runs steps until <paramref name="until"/> (or the settings' step count), reporting each.</summary>
    public void Train(int? until = null, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default,
        Action<int>? afterStep = null)
    {
        int last = until ?? _s.Steps;
        // Reused every step: with full fine-tuning of a 7B model each is 6.4 GB.
        var parameters = new float[Parameters];
        var gradient = new float[Parameters];
        // Only the updates below change the trained values: read once, they stay the optimizer's copy.
        CopyParameters(parameters);
        while (_adam.Step < last)
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            int step = _adam.Step;
            var losses = GradientInto(gradient, step, cancellation);
            double norm = GradientClip.Apply(gradient, _s.GradientClip);
            if (!double.IsFinite(losses.Total) || !double.IsFinite(norm))
                throw new TrainingDivergedException(
                    $"step {step + 1}: the loss is {losses.Total} and the gradient norm {norm}: training diverged (lower the learning rate {_s.LearningRate})");
            float lr = LearningRate.At(_s, step);
            _adam.Update(parameters, gradient, lr, DecayedRange());
            SetParameters(parameters);

            LastLosses = losses;
            progress?.Report(new TrainingProgress(_adam.Step, _s.Steps, losses, lr, norm, clock.Elapsed));
            afterStep?.Invoke(_adam.Step);
        }
    }

    /// <summary>
    /// The trained values in the optimizer's layout: the concept's [text..., image..., index...], then the trained
    /// weights' (LoRA's A and B pair by pair, or full weights projection by projection).
    /// </summary>
    private void CopyParameters(Span<float> destination)
    {
        _concept?.ReadParameters(destination[..ConceptParameters]);
        _weights?.CopyTo(destination[ConceptParameters..]);
    }

    private void SetParameters(ReadOnlySpan<float> values)
    {
        _concept?.WriteParameters(values[..ConceptParameters]);
        _weights?.SetValues(values[ConceptParameters..]);
    }

    /// <summary>
    /// The loss of update <paramref name="step"/> at the current values, and its exact gradient w.r.t. the trained
    /// parameters in <see cref="CopyParameters"/>'s layout (before clipping): what <see cref="Train"/> applies.
    /// </summary>
    public (float[] Gradient, StepLosses Losses) Gradient(int step, CancellationToken cancellation = default)
    {
        var gradient = new float[Parameters];
        return (gradient, GradientInto(gradient, step, cancellation));
    }

    /// <summary><see cref="Gradient"/> into <paramref name="gradient"/> (every element is written).</summary>
    private StepLosses GradientInto(float[] gradient, int step, CancellationToken cancellation)
    {
        int d = _model.Config.HiddenSize, k = _s.Accumulation;
        // LoRA has no context slots: no table to inject from or to take gradients into.
        var table = _concept is null ? null : new ContextTable([_concept]);
        using var tableTensor = table is null ? null : _b.Allocate(DType.F32, [table.Rows, d], "context_table");
        using var tableGrad = table is null ? null : _b.Allocate(DType.F32, [table.Rows, d], "context_grad");
        if (table is not null)
        {
            _b.Upload<float>(table.Values(), tableTensor!);
            _b.Zero(tableGrad!);
        }
        _weights?.ZeroGradients();
        double ntp = 0, z = 0, classNtp = 0, classZ = 0, classKl = 0;
        for (int a = 0; a < k; a++)
        {
            cancellation.ThrowIfCancellationRequested();
            long pass = (long)step * k + a;
            int item = TrainingDraws.Item(_s.Seed, TrainingDraws.Stream.SubjectOrder, pass, _subject.Count);
            var prompts = _s.SubjectPrompts;
            string subjectPrompt = prompts[prompts.Count == 1 ? 0 : TrainingDraws.Item(_s.Seed, TrainingDraws.Stream.Template, pass, prompts.Count)];
            var subject = SubjectPass(subjectPrompt, _subject.Draw(item, pass), tableTensor, tableGrad, table, 1f / k);
            ntp += subject.CrossEntropy / k;
            z += subject.ZLoss / k;
            if (_s.Dpp)
            {
                int c = TrainingDraws.Item(_s.Seed, TrainingDraws.Stream.ClassOrder, pass, _classImages.Count);
                var cls = ClassPass(_classImages[c], tableTensor, tableGrad, table, 1f / k);
                classNtp += cls.CrossEntropy / k;
                classZ += cls.ZLoss / k;
                classKl += cls.Kl / k;
            }
        }
        double dpp = _s.Lambda1 * (classNtp + _s.ZLossWeight * classZ) + _s.Lambda2 * classKl;
        double casr = 0;
        if (table is not null)
        {
            var gradHost = new float[table.Rows * d];
            _b.Download<float>(tableGrad!, gradHost);
            table.ParameterGradient(gradHost, 0).CopyTo(gradient, 0);
            casr = _s.Casr ? AddCasrGradient(gradient.AsSpan(Concept.Text.Length, Concept.Image.Length)) : 0;
        }
        _weights?.DownloadGradients(gradient.AsSpan(ConceptParameters));

        double total = ntp + _s.ZLossWeight * z + (_s.Dpp ? _s.Alpha * dpp : 0) + (_s.Casr ? _s.BetaCasr * casr : 0);
        return new StepLosses(ntp, z, dpp, classNtp, classZ, classKl, casr, total);
    }

    /// <summary>
    /// The parameter range the weight decay applies to: of [text..., image..., index...], or (with trained weights,
    /// whose settings allow all or none) everything.
    /// </summary>
    private Range DecayedRange()
    {
        int t = _concept?.Text.Length ?? 0, i = _concept?.Image.Length ?? 0, all = Parameters;
        return _s.DecayedTokens switch
        {
            DecayedTokens.All => 0..all,
            DecayedTokens.Text => 0..t,
            DecayedTokens.Image => t..(t + i),
            _ => 0..0,
        };
    }

    /// <summary>NTP on a subject image behind its prompt ("a photo of [V] class") and the image slots, weighted <paramref name="weight"/>.</summary>
    private OutputLoss.Values SubjectPass(string subjectPrompt, TrainingExample ex, Tensor? table, Tensor? tableGrad, ContextTable? layout, float weight)
    {
        var placeholders = _s.TextSlots > 0 ? new[] { new PromptPlaceholder(_s.Placeholder, _s.TextSlots) } : [];
        var prompt = _engine.Prompt.Build(subjectPrompt, ex.Layout.WidthPx, ex.Layout.HeightPx, placeholders, _referenceTokens);
        // The training prompt's reference images show the concept: its index embedding (if any) goes on them too.
        var sequence = _concept is null
            ? Bind(prompt, layout)
            : ConceptSequence.Build(prompt, [_concept], layout!, identityMask: false, _engine.Prompt.SlotFillerId,
                imageOwners: prompt.Images.Select(_ => (string?)_concept.Placeholder).ToList());
        return ContextPass(sequence, ex, table, tableGrad, ntpWeight: weight, reference: null, klWeight: 0f);
    }

    /// <summary>The prompt with the concept bound in (its slots and their injections); for LoRA, the prompt alone.</summary>
    private ConceptSequence Bind(PromptTokens prompt, ContextTable? layout) =>
        _concept is null
            ? new ConceptSequence(prompt.Ids, new int[prompt.Ids.Length], [])
            : ConceptSequence.Build(prompt, [_concept], layout!, identityMask: false, _engine.Prompt.SlotFillerId);

    /// <summary>
    /// DPP on a class image: the class prompt (no placeholder) with the concept's image slots, NTP weighted by
    /// alpha * lambda1 and KL(frozen || with context) by alpha * lambda2 (times <paramref name="weight"/>), the frozen
    /// pass having no slots at all.
    /// </summary>
    private OutputLoss.Values ClassPass(TrainingExample ex, Tensor? table, Tensor? tableGrad, ContextTable? layout, float weight)
    {
        var classIds = ClassPromptIds(ex.Layout);
        int[] frozenTokens = [.. classIds, .. ex.ImageTokens];
        var frozenBatch = TargetBatch(frozenTokens, classIds.Length, [], new int[frozenTokens.Length]);
        EnsureCache(frozenTokens.Length + _s.ImageSlots);
        using var reference = Frozen(() =>
        {
            var frozenHidden = _model.ForwardHidden(frozenBatch, _cache!);
            var copy = _b.Allocate(frozenHidden.DType, frozenHidden.Shape, "frozen_hidden");
            _b.Copy(frozenHidden, copy);
            return copy;
        });
        var sequence = Bind(_engine.Prompt.Build(_s.ClassPrompt, ex.Layout.WidthPx, ex.Layout.HeightPx), layout);
        return ContextPass(sequence, ex, table, tableGrad, weight * _s.Alpha * _s.Lambda1, reference, weight * _s.Alpha * _s.Lambda2);
    }

    private OutputLoss.Values ContextPass(ConceptSequence sequence, TrainingExample ex, Tensor? table, Tensor? tableGrad,
        float ntpWeight, Tensor? reference, float klWeight)
    {
        int[] tokens = [.. sequence.Tokens, .. ex.ImageTokens];
        var tags = new int[tokens.Length];
        sequence.Tags.CopyTo(tags, 0);
        var batch = TargetBatch(tokens, sequence.Tokens.Length, sequence.Injections, tags);
        EnsureCache(tokens.Length);
        using var saved = new TrainingActivations(_b, _model.Config, batch, _plan.Mode, _activations);
        var hidden = _model.ForwardHidden(batch, _cache!, contextTable: table, save: saved);
        var targets = batch.LogitIndices.Select(i => Target(tokens[i + 1])).ToArray();
        using var dHidden = _b.Allocate(hidden.DType, hidden.Shape, "d_hidden");
        var values = _loss.Compute(hidden, targets, ntpWeight, reference, klWeight, dHidden, _s.ZLossWeight);
        _model.Backward(saved, _cache!, dHidden, tableGrad);
        return values;
    }

    /// <summary>A next token as the loss sees it: itself, or with <see cref="NtpTargets.Codes"/> its code index (-1, ignored, if not a code).</summary>
    private int Target(int token) =>
        _s.NtpTargets == NtpTargets.ImagePhase ? token : _ids.IsCode(token) ? token - _ids.FirstCode : -1;

    /// <summary>One row from position 0; logits at every position that predicts an image-phase token.</summary>
    internal static ForwardBatch TargetBatch(int[] tokens, int imageStart, IReadOnlyList<ContextInjection> injections, int[] tags) =>
        new(tokens, new int[tokens.Length], Enumerable.Range(0, tokens.Length).ToArray(), tags,
            Enumerable.Range(imageStart - 1, tokens.Length - imageStart).ToArray()) { Injections = injections };

    /// <summary>(1/N) sum_l ||image[l] - E[l]||^2 summed over image slots; adds its beta-weighted gradient.</summary>
    private double AddCasrGradient(Span<float> imageGrad)
    {
        int d = _model.Config.HiddenSize, depth = Concept.Depth;
        double loss = 0;
        float scale = 2f * _s.BetaCasr / depth;
        for (int l = 0; l < depth; l++)
            for (int k = 0; k < _s.ImageSlots; k++)
            {
                var v = Concept.ImageVector(l, k);
                var g = imageGrad.Slice((l * _s.ImageSlots + k) * d, d);
                var mean = _casrMean.AsSpan(l * d, d);
                for (int j = 0; j < d; j++)
                {
                    float diff = v[j] - mean[j];
                    loss += (double)diff * diff;
                    g[j] += scale * diff;
                }
            }
        return loss / depth;
    }

    private int[] ClassPromptIds(ImageLayout layout) => _engine.Prompt.Build(_s.ClassPrompt, layout.WidthPx, layout.HeightPx).Ids;

    private void RunFrozen(int[] tokens, IActivationObserver observer)
    {
        EnsureCache(tokens.Length);
        var batch = ForwardBatch.Single(tokens);
        Frozen(() => _model.ForwardHidden(batch, _cache!, observer));
    }

    /// <summary>Runs <paramref name="forward"/> on the frozen base model: without the adapters being trained.</summary>
    private T Frozen<T>(Func<T> forward)
    {
        var adapter = _model.Adapter;
        _model.Adapter = null;
        try
        {
            return forward();
        }
        finally
        {
            _model.Adapter = adapter;
        }
    }

    private void EnsureCache(int tokens)
    {
        if (_cache is not null && _cache.Capacity >= tokens) return;
        _cache?.Dispose();
        _cache = _model.CreateCache(1, Math.Max(tokens, _plan.MaxTokens));
    }

    private TrainingPlan Plan()
    {
        // The longest prompt (the size digits aside, every image's is the same) plus the slots.
        int size = _s.Resolution!.Value;
        var placeholders = _s.TextSlots > 0 ? new[] { new PromptPlaceholder(_s.Placeholder, _s.TextSlots) } : [];
        int promptTokens = Math.Max(_s.SubjectPrompts.Max(p => _engine.Prompt.Build(p, size, size, placeholders, _referenceTokens).Ids.Length),
            _engine.Prompt.Build(_s.ClassPrompt, size, size).Ids.Length);
        int promptBudget = promptTokens + 8 + _s.ImageSlots;
        int maxTokens = Math.Max(_subject.MaxImageTokens, _classImages.Count > 0 ? _classImages.Max(e => e.ImageTokens.Length) : 0) + promptBudget;
        var (free, _) = _b.MemoryInfo();
        // Trained weights (LoRA, full) keep their values and gradients on the device (F32), besides AdamW's state on the host.
        long adapterBytes = 8L * (_weights?.Parameters ?? 0);
        return TrainingPlan.For(_model.Config, maxTokens, _b.ActivationType, free, _b.Name, adapterBytes);
    }

    // ---- checkpoints: the concept, the optimizer moments and the step, written atomically ----

    public void SaveCheckpoint(string path)
    {
        if (_weights is not null)
        {
            var values = new float[Parameters];
            CopyParameters(values);
            ParameterCheckpoint.Write(path, values, _engine.Fingerprint, _adam.Step, _s.ToJson(), _adam.M, _adam.V);
        }
        else
            TrainingCheckpoint.Write(path, Concept, _engine.Fingerprint, _adam.Step, _s.ToJson(), _adam.M, _adam.V, _casrMean);
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> and returns its step. A checkpoint that cannot be
    /// read, or that belongs to another run, is an error that offers --restart (see <see cref="TrainingCheckpoint.Read"/>).
    /// </summary>
    public int Resume(string path)
    {
        if (_weights is not null)
        {
            var (values, m, v, weightStep) = ParameterCheckpoint.Read(path, _engine.Fingerprint, _s.ToJson(), _s.Steps, Parameters);
            SetParameters(values);
            _adam.Restore(m, v, weightStep);
            return weightStep;
        }
        var checkpoint = TrainingCheckpoint.Read(path, _engine.Fingerprint, _s.ToJson(), _s.Steps, Concept, _adam.M.Length, _casrMean.Length);
        var restored = new float[Concept.Parameters];
        checkpoint.Concept.ReadParameters(restored);
        Concept.WriteParameters(restored);
        checkpoint.CasrMean.CopyTo(_casrMean, 0);
        _adam.Restore(checkpoint.AdamM, checkpoint.AdamV, checkpoint.Step);
        return checkpoint.Step;
    }

    /// <summary>
    /// The final output: the concept file (tokens and what made them: every effective setting, steps, final losses);
    /// for LoRA the PEFT adapter directory at <paramref name="path"/> with the same record in its safetensors metadata;
    /// for PersonalAR stage 2 the directory at <paramref name="path"/> with the concept
    /// (<see cref="PersonalArJob.ConceptFileName"/>) and the trained weights (<see cref="TrainedWeights.Save"/>).
    /// </summary>
    public void SaveConcept(string path)
    {
        var record = Record();
        if (_weights is not null)
        {
            if (_concept is not null)
            {
                Directory.CreateDirectory(path);
                ConceptFile.Save(Path.Combine(path, PersonalArJob.ConceptFileName), _concept, _engine.Fingerprint, record);
            }
            _weights.Save(path, _model, _engine.Fingerprint, record);
        }
        else
            ConceptFile.Save(path, Concept, _engine.Fingerprint, record);
    }

    /// <summary>Extra metadata for the outputs (PersonalAR stage 2 records stage 1's settings and output).</summary>
    public IReadOnlyDictionary<string, string>? AdditionalRecord { get; set; }

    private Dictionary<string, string> Record()
    {
        var record = BaseRecord();
        foreach (var (k, v) in AdditionalRecord ?? new Dictionary<string, string>()) record[k] = v;
        return record;
    }

    private Dictionary<string, string> BaseRecord() => new()
        {
            ["method"] = MethodName(_s.Method),
            ["base_model"] = _engine.Fingerprint,
            ["training_settings"] = _s.ToJson(),
            ["training_recipe"] = string.Join("\n", _s.Describe()),
            ["steps"] = _adam.Step.ToString(CultureInfo.InvariantCulture),
            ["final_losses"] = JsonSerializer.Serialize(new Dictionary<string, double>
            {
                ["ntp"] = LastLosses.Ntp, ["z_loss"] = LastLosses.ZLoss, ["dpp"] = LastLosses.Dpp, ["casr"] = LastLosses.Casr, ["total"] = LastLosses.Total,
            }, TrainingJson.Default.DictionaryStringDouble),
        };

    /// <summary>A method's name as the CLI's --method and the output's metadata write it.</summary>
    public static string MethodName(TrainingMethod method) => method switch
    {
        TrainingMethod.TextualInversion => "textual-inversion",
        TrainingMethod.Lora => "lora",
        TrainingMethod.PersonalAr => "personalar",
        _ => "coar",
    };

    public void Dispose()
    {
        if (_weights is not null && ReferenceEquals(_model.Adapter, _weights.Device)) _model.Adapter = null;
        _weights?.Dispose();
        _cache?.Dispose();
        _loss.Dispose();
        _activations.Dispose();
    }
}
