using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>All weights of a Chameleon model, made ready on one backend from a checked checkpoint.</summary>
public sealed class ChameleonWeights : IDisposable
{
    private readonly List<Tensor> _owned;

    private ChameleonWeights(Tensor embedding, Tensor finalNorm, Tensor lmHead, LayerWeights[] layers, List<Tensor> owned, long bytes)
    {
        Embedding = embedding;
        FinalNorm = finalNorm;
        LmHead = lmHead;
        _layers = layers;
        _owned = owned;
        Bytes = bytes;
    }

    public Tensor Embedding { get; }
    public Tensor FinalNorm { get; }

    /// <summary>The output projection; the embedding itself when the config ties them.</summary>
    public Tensor LmHead { get; }

    private readonly LayerWeights[] _layers;

    public IReadOnlyList<LayerWeights> Layers => _layers;

    /// <summary>
    /// Puts <paramref name="weight"/> (same shape) in place of projection <paramref name="p"/> of layer
    /// <paramref name="layer"/>: a fine-tuned or LoRA-merged copy. This object owns it from then on and frees the
    /// weight it replaces.
    /// </summary>
    public void Replace(int layer, Projection p, Tensor weight)
    {
        var old = _layers[layer].Of(p);
        if (!weight.Shape.SequenceEqual(old.Shape))
            throw new ArgumentException($"layer {layer} {p.ModulePath()}: replacement has shape [{string.Join(", ", weight.Shape.ToArray())}], " +
                $"expected [{string.Join(", ", old.Shape.ToArray())}]", nameof(weight));
        _layers[layer] = _layers[layer].With(p, weight);
        _owned.Add(weight);
        if (_owned.Remove(old)) old.Dispose();
    }

    /// <summary>Checkpoint bytes of all weights.</summary>
    public long Bytes { get; }

    public static unsafe ChameleonWeights Load(
        SafeTensorsCheckpoint checkpoint, ChameleonConfig config, IBackend backend, string modelPath,
        IProgress<ModelLoadProgress>? progress = null, CancellationToken cancellation = default)
    {
        var infos = ChameleonTensors.Resolve(checkpoint, config, modelPath);
        long total = infos.Values.Sum(i => i.ByteLength), done = 0;
        var owned = new List<Tensor>(infos.Count);
        var loaded = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, info) in infos)
            {
                cancellation.ThrowIfCancellationRequested();
                var shape = info.Shape.Select(d => checked((int)d)).ToArray();
                var tensor = backend.LoadWeight((nint)checkpoint.GetPointer(info), info.DType, shape, name);
                owned.Add(tensor);
                loaded[name] = tensor;
                done += info.ByteLength;
                progress?.Report(new ModelLoadProgress(loaded.Count, infos.Count, done, total, name));
            }
            return Assemble(config, loaded, owned, total);
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Seeded random weights of a config's shape made directly on the backend, no checkpoint file: for benchmarks at
    /// the real 7B shape. Values are uniform with per-tensor scales (projections 1/sqrt(fan-in), norms near 1).
    /// </summary>
    public static ChameleonWeights Synthetic(ChameleonConfig config, IBackend backend, int seed, CancellationToken cancellation = default)
    {
        var dtype = ChameleonTensors.ExpectedDType(config);
        var owned = new List<Tensor>();
        var loaded = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        long total = 0;
        try
        {
            foreach (var spec in ChameleonTensors.Expected(config))
            {
                cancellation.ThrowIfCancellationRequested();
                var shape = spec.Shape.Select(d => d == TensorSpec.AnyDivisor ? 1 : d).ToArray();
                var t = backend.Allocate(dtype, shape, spec.Name);
                owned.Add(t);
                SyntheticFill.Fill(backend, t, spec, seed);
                loaded[spec.Name] = t;
                total += t.ByteLength;
            }
            return Assemble(config, loaded, owned, total);
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
    }

    private static ChameleonWeights Assemble(ChameleonConfig config, Dictionary<string, Tensor> loaded, List<Tensor> owned, long bytes)
    {
        Tensor Get(string name) => loaded[name];
        Tensor? Optional(string name) => loaded.GetValueOrDefault(name);
        var layers = new LayerWeights[config.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string L(string s) => ChameleonTensors.Layer(i, s);
            layers[i] = new LayerWeights(
                Get(L("input_layernorm.weight")),
                Get(L("self_attn.q_proj.weight")), Get(L("self_attn.k_proj.weight")),
                Get(L("self_attn.v_proj.weight")), Get(L("self_attn.o_proj.weight")),
                Optional(L("self_attn.q_norm.weight")), Optional(L("self_attn.q_norm.bias")),
                Optional(L("self_attn.k_norm.weight")), Optional(L("self_attn.k_norm.bias")),
                Get(L("post_attention_layernorm.weight")),
                Get(L("mlp.gate_proj.weight")), Get(L("mlp.up_proj.weight")), Get(L("mlp.down_proj.weight")));
        }
        var embedding = Get(ChameleonTensors.Embedding);
        var lmHead = config.TieWordEmbeddings ? embedding : Get(ChameleonTensors.LmHead);
        return new ChameleonWeights(embedding, Get(ChameleonTensors.FinalNorm), lmHead, layers, owned, bytes);
    }

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}
