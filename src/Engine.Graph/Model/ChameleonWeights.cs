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
        Layers = layers;
        _owned = owned;
        Bytes = bytes;
    }

    public Tensor Embedding { get; }
    public Tensor FinalNorm { get; }

    /// <summary>The output projection; the embedding itself when the config ties them.</summary>
    public Tensor LmHead { get; }

    public IReadOnlyList<LayerWeights> Layers { get; }

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
            return new ChameleonWeights(embedding, Get(ChameleonTensors.FinalNorm), lmHead, layers, owned, total);
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }
}
