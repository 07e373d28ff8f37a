using CoAR.Engine.Graph.Model;

namespace CoAR.Engine.Graph.Lora;

/// <summary>
/// A LoRA adapter's weights on the host, as PEFT defines them: for each adapted projection W [out, in] of a layer,
/// A [rank, in] and B [out, rank], so that the projection becomes y = x W^T + (alpha / rank) (x A^T) B^T.
/// </summary>
public sealed class LoraAdapter
{
    private readonly Dictionary<(int Layer, Projection P), Pair> _pairs = new();

    /// <summary>A and B of one projection, row-major, F32.</summary>
    public sealed record Pair(int Layer, Projection Projection, int In, int Out, float[] A, float[] B);

    /// <param name="rsLora">Scale alpha / sqrt(rank) instead of alpha / rank (PEFT's use_rslora).</param>
    public LoraAdapter(int rank, float alpha, IReadOnlyList<Projection> targets, bool rsLora = false)
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), $"LoRA rank {rank}: expected at least 1");
        if (!float.IsFinite(alpha) || alpha <= 0) throw new ArgumentOutOfRangeException(nameof(alpha), $"LoRA alpha {alpha}: expected a positive number");
        if (targets.Count == 0) throw new ArgumentException("LoRA needs at least one target projection", nameof(targets));
        Rank = rank;
        Alpha = alpha;
        Targets = targets.Distinct().Order().ToArray();
        RsLora = rsLora;
    }

    public bool RsLora { get; }

    public int Rank { get; }
    public float Alpha { get; }

    /// <summary>The projection kinds adapted (PEFT's target_modules), in <see cref="Projection"/> order.</summary>
    public IReadOnlyList<Projection> Targets { get; }

    /// <summary>PEFT's scaling of the low-rank term: alpha / rank, or alpha / sqrt(rank) with rsLoRA.</summary>
    public float Scale => RsLora ? Alpha / MathF.Sqrt(Rank) : Alpha / Rank;

    /// <summary>Every adapted projection, by layer then projection.</summary>
    public IEnumerable<Pair> Pairs => _pairs.Values.OrderBy(p => p.Layer).ThenBy(p => p.Projection);

    public int Count => _pairs.Count;

    /// <summary>Trainable parameters: rank (in + out) per adapted projection.</summary>
    public long Parameters => _pairs.Values.Sum(p => (long)p.A.Length + p.B.Length);

    public bool Adapts(int layer, Projection p) => _pairs.ContainsKey((layer, p));

    public Pair this[int layer, Projection p] => _pairs[(layer, p)];

    /// <summary>Adds (or replaces) the pair of one projection; A is [rank, in], B [out, rank].</summary>
    public void Set(int layer, Projection p, int inFeatures, int outFeatures, float[] a, float[] b)
    {
        if (a.Length != (long)Rank * inFeatures || b.Length != (long)outFeatures * Rank)
            throw new ArgumentException($"layer {layer} {p.ModulePath()}: A has {a.Length} values and B {b.Length}; rank {Rank} wants " +
                $"A [{Rank}, {inFeatures}] and B [{outFeatures}, {Rank}]");
        _pairs[(layer, p)] = new Pair(layer, p, inFeatures, outFeatures, a, b);
    }

    /// <summary>
    /// A fresh adapter on every target of <paramref name="layers"/> as PEFT initialises one: A uniform in
    /// +-1/sqrt(in) (kaiming_uniform with a = sqrt(5)), B zero, so the adapted model starts as the base model.
    /// Seeded: the same seed gives the same A.
    /// </summary>
    public static LoraAdapter Create(ChameleonConfig config, int rank, float alpha, IReadOnlyList<Projection> targets, IEnumerable<int> layers, int seed)
    {
        var adapter = new LoraAdapter(rank, alpha, targets);
        var rng = new Random(seed);
        foreach (int layer in layers)
            foreach (var p in adapter.Targets)
            {
                var (outF, inF) = Shape(config, p);
                float bound = 1f / MathF.Sqrt(inF);
                var a = new float[rank * inF];
                for (int i = 0; i < a.Length; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * bound;
                adapter.Set(layer, p, inF, outF, a, new float[outF * rank]);
            }
        return adapter;
    }

    /// <summary>[out, in] of a projection's weight in a model of this config.</summary>
    public static (int Out, int In) Shape(ChameleonConfig c, Projection p) => p switch
    {
        Projection.Q => (c.HiddenSize, c.HiddenSize),
        Projection.K or Projection.V => (c.KvDim, c.HiddenSize),
        Projection.O => (c.HiddenSize, c.HiddenSize),
        Projection.Gate or Projection.Up => (c.IntermediateSize, c.HiddenSize),
        Projection.Down => (c.HiddenSize, c.IntermediateSize),
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    /// <summary>Checks that every pair fits a model: layer in range, A and B shaped for its projection.</summary>
    public void CheckFits(ChameleonConfig c, string source)
    {
        foreach (var pair in Pairs)
        {
            if (pair.Layer >= c.NumLayers)
                throw new InvalidDataException($"{source}: adapts layer {pair.Layer}, but the model has {c.NumLayers} layers");
            var (outF, inF) = Shape(c, pair.Projection);
            if (pair.In != inF || pair.Out != outF)
                throw new InvalidDataException($"{source}: layer {pair.Layer} {pair.Projection.ModulePath()} is adapted for a [{pair.Out}, {pair.In}] weight; " +
                    $"the model's is [{outF}, {inF}]");
        }
    }

    /// <summary>All A and B values laid out pair by pair (A then B), in <see cref="Pairs"/> order: the optimizer's view.</summary>
    public void CopyTo(Span<float> destination)
    {
        int at = 0;
        foreach (var p in Pairs)
        {
            p.A.CopyTo(destination[at..]);
            at += p.A.Length;
            p.B.CopyTo(destination[at..]);
            at += p.B.Length;
        }
    }

    /// <summary>The inverse of <see cref="CopyTo"/>.</summary>
    public void CopyFrom(ReadOnlySpan<float> source)
    {
        int at = 0;
        foreach (var p in Pairs)
        {
            source.Slice(at, p.A.Length).CopyTo(p.A);
            at += p.A.Length;
            source.Slice(at, p.B.Length).CopyTo(p.B);
            at += p.B.Length;
        }
    }
}
