using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;

namespace CoAR.Engine.Graph.FineTuning;

/// <summary>
/// Full fine-tuning's trained values on the host: for each fine-tuned projection W [out, in] of a layer, the F32 change
/// dW [out, in], so that the projection becomes y = x (W + dW)^T. Kept apart from W because the loaded weights are
/// BF16: an update of lr 1e-5 is far below BF16's resolution of a weight, and would round away if applied to W itself.
/// </summary>
public sealed class WeightDeltas
{
    private readonly Dictionary<(int Layer, Projection P), Delta> _deltas = new();

    /// <summary>dW of one projection, row-major [Out, In].</summary>
    public sealed record Delta(int Layer, Projection Projection, int In, int Out, float[] Values);

    /// <summary>Every fine-tuned projection, by layer then projection.</summary>
    public IEnumerable<Delta> All => _deltas.Values.OrderBy(p => p.Layer).ThenBy(p => p.Projection);

    public int Count => _deltas.Count;

    /// <summary>Trainable parameters: every weight of every fine-tuned projection.</summary>
    public long Parameters => _deltas.Values.Sum(d => (long)d.Values.Length);

    public bool Adapts(int layer, Projection p) => _deltas.ContainsKey((layer, p));

    public Delta this[int layer, Projection p] => _deltas[(layer, p)];

    /// <summary>Zero changes (the loaded model) on <paramref name="targets"/> of every layer in <paramref name="layers"/>.</summary>
    public static WeightDeltas Create(ChameleonConfig config, IReadOnlyList<Projection> targets, IEnumerable<int> layers)
    {
        var deltas = new WeightDeltas();
        foreach (int layer in layers)
            foreach (var p in targets.Distinct().Order())
            {
                var (outF, inF) = LoraAdapter.Shape(config, p);
                deltas._deltas[(layer, p)] = new Delta(layer, p, inF, outF, new float[checked(outF * inF)]);
            }
        return deltas;
    }

    /// <summary>All changes laid out projection by projection in <see cref="All"/> order: the optimizer's view.</summary>
    public void CopyTo(Span<float> destination)
    {
        int at = 0;
        foreach (var d in All)
        {
            d.Values.CopyTo(destination[at..]);
            at += d.Values.Length;
        }
    }

    /// <summary>The inverse of <see cref="CopyTo"/>.</summary>
    public void CopyFrom(ReadOnlySpan<float> source)
    {
        int at = 0;
        foreach (var d in All)
        {
            source.Slice(at, d.Values.Length).CopyTo(d.Values);
            at += d.Values.Length;
        }
    }
}
