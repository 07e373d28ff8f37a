using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>
/// Scores an image's token sequence under two conditions of the frozen model (a caption, the concepts bound into it,
/// the identity mask) as the sampler sees them: at every position whose next token is an image code, the distribution
/// over the 8192 codes (the new lines and the end are forced, the rest of the vocabulary masked). Gives each
/// condition's mean NLL of the codes and the mean KL(reference || candidate) at those positions. The image tokens are
/// fed in directly (no VQGAN); the code head is evaluated a chunk of rows at a time.
/// </summary>
public sealed class ConceptScorer : IDisposable
{
    private readonly CoarEngine _engine;
    private readonly ChameleonModel _model;
    private readonly IBackend _b;
    private readonly ImageTokenIds _ids;
    private readonly OutputLoss _loss;
    private KvCache? _cache;

    public ConceptScorer(CoarEngine engine)
    {
        _engine = engine;
        _model = engine.Model;
        _b = _model.Backend;
        _ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        _loss = new OutputLoss(_model, head: _model.Weights.LmHead.Rows(_ids.FirstCode, _ids.CodeCount));
    }

    /// <summary>
    /// How the model is run: the caption, the concepts (a concept whose placeholder is in the caption gets its text
    /// slots there; every concept's image slots go before the image, as DPP's class pass has them), the identity mask,
    /// the concepts' index embeddings (for those that have one), and the projection adapter on the model (LoRA; null: the
    /// frozen weights alone).
    /// </summary>
    public sealed record Condition(string Caption, IReadOnlyList<Concept> Concepts, bool IdentityMask = true, bool IndexEmbeddings = true,
        IProjectionAdapter? Adapter = null)
    {
        public static Condition Frozen(string caption) => new(caption, []);
    }

    /// <summary>Mean NLL per code under each condition, mean KL(reference || candidate) over the codes, and how many codes.</summary>
    public readonly record struct Score(double ReferenceNll, double CandidateNll, double Kl, int Targets);

    public Score Compare(Condition reference, Condition candidate, TrainingExample image)
    {
        using var referenceHidden = Hidden(reference, image, out var targets);
        using var candidateHidden = Hidden(candidate, image, out _);
        var c = _loss.Compute(candidateHidden, targets, 1f, referenceHidden, 1f, dHidden: null);
        var r = _loss.Compute(referenceHidden, targets, 1f, null, 0f, dHidden: null);
        return new Score(r.CrossEntropy, c.CrossEntropy, c.Kl, c.Rows);
    }

    /// <summary>The normed hidden rows [targets, D] that predict the image-phase tokens under a condition (an owned copy); targets are code indices, -1 where the next token is not a code.</summary>
    private Tensor Hidden(Condition condition, TrainingExample image, out int[] targets)
    {
        var prompt = _engine.Prompt;
        int w = image.Layout.WidthPx, h = image.Layout.HeightPx;
        var bound = condition.Concepts.Where(c => c.TextSlots > 0 && condition.Caption.Contains(c.Placeholder, StringComparison.Ordinal))
            .Select(c => new PromptPlaceholder(c.Placeholder, c.TextSlots)).ToList();
        var built = prompt.Build(condition.Caption, w, h, bound);
        ContextTable? table = condition.Concepts.Count > 0 ? new ContextTable(condition.Concepts) : null;
        var sequence = table is null
            ? new ConceptSequence(built.Ids, new int[built.Ids.Length], [])
            : ConceptSequence.Build(built, condition.Concepts, table, condition.IdentityMask, prompt.SlotFillerId, indexEmbeddings: condition.IndexEmbeddings);
        int[] tokens = [.. sequence.Tokens, .. image.ImageTokens];
        var tags = new int[tokens.Length];
        sequence.Tags.CopyTo(tags, 0);
        var batch = ConceptTrainer.TargetBatch(tokens, sequence.Tokens.Length, sequence.Injections, tags);
        if (_cache is null || _cache.Capacity < tokens.Length)
        {
            _cache?.Dispose();
            _cache = _model.CreateCache(1, tokens.Length);
        }
        using var tableTensor = table is null ? null : _b.Allocate(DType.F32, [table.Rows, table.Hidden], "context_table");
        if (table is not null) _b.Upload<float>(table.Values(), tableTensor!);
        var adapter = _model.Adapter;
        _model.Adapter = condition.Adapter;
        Tensor hidden;
        try
        {
            hidden = _model.ForwardHidden(batch, _cache, contextTable: tableTensor);
        }
        finally
        {
            _model.Adapter = adapter;
        }
        var copy = _b.Allocate(hidden.DType, hidden.Shape, "scored_hidden");
        _b.Copy(hidden, copy);
        targets = batch.LogitIndices.Select(i => _ids.IsCode(tokens[i + 1]) ? tokens[i + 1] - _ids.FirstCode : -1).ToArray();
        return copy;
    }

    public void Dispose()
    {
        _cache?.Dispose();
        _loss.Dispose();
    }
}
