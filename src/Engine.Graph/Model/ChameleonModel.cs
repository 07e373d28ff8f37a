using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>
/// The Chameleon decoder (Lumina-mGPT 7B and its tiny stand-ins) on one backend: batched forward passes over packed
/// rows of different lengths on a KV cache, logits for chosen tokens only. Numerics: activations in the backend's
/// activation type (fp32 on the CPU), norm statistics and GEMM accumulation in fp32, RoPE cos/sin kept in fp32
/// (the reference rounds them to bf16), logits fp32.
/// </summary>
public sealed class ChameleonModel : IDisposable
{
    private readonly SafeTensorsCheckpoint? _checkpoint;
    private readonly Workspace _workspace;

    public ChameleonModel(ChameleonConfig config, ChameleonWeights weights, IBackend backend, SafeTensorsCheckpoint? checkpoint = null)
    {
        Config = config;
        Weights = weights;
        Backend = backend;
        _checkpoint = checkpoint;
        _workspace = new Workspace(backend);
    }

    public ChameleonConfig Config { get; }
    public ChameleonWeights Weights { get; }
    public IBackend Backend { get; }

    /// <summary>Bytes of scratch the forward passes have needed so far.</summary>
    public long WorkspaceBytes => _workspace.Bytes;

    /// <summary>Loads config.json and the safetensors checkpoint (sharded or single) of a model directory.</summary>
    public static ChameleonModel Load(string modelDir, IBackend backend, IProgress<ModelLoadProgress>? progress = null, CancellationToken cancellation = default)
    {
        var config = ChameleonConfig.Load(Path.Combine(modelDir, "config.json"));
        var checkpoint = OpenCheckpoint(modelDir);
        try
        {
            var weights = ChameleonWeights.Load(checkpoint, config, backend, modelDir, progress, cancellation);
            return new ChameleonModel(config, weights, backend, checkpoint);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public static SafeTensorsCheckpoint OpenCheckpoint(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new ModelFormatException($"{modelDir}: model directory not found");
        return SafeTensorsCheckpoint.Open(modelDir);
    }

    public KvCache CreateCache(int rows, int capacity) => new(Backend, Config, rows, capacity);

    /// <summary>
    /// Runs the batch: writes every token's keys and values into the cache, and returns the logits [n, vocab] (F32)
    /// of the tokens in <see cref="ForwardBatch.LogitIndices"/>. The returned tensor is reused by the next call.
    /// </summary>
    public Tensor Forward(ForwardBatch batch, KvCache cache, IActivationObserver? observer = null)
    {
        batch.Validate(Config.VocabSize, cache);
        var c = Config;
        var b = Backend;
        var act = b.ActivationType;
        int t = batch.Count, d = c.HiddenSize, h = c.NumHeads, hkv = c.NumKvHeads, dh = c.HeadDim;
        var ws = _workspace;

        var ids = ws.Get("ids", DType.I32, t);
        b.Upload<int>(batch.Tokens, ids);
        var tokens = new TokenMap(ws.Get("rows", DType.I32, t), ws.Get("positions", DType.I32, t), ws.Get("tags", DType.I32, t));
        b.Upload<int>(batch.Rows, tokens.Rows);
        b.Upload<int>(batch.Positions, tokens.Positions);
        b.Upload<int>(batch.Tags, tokens.Tags);

        var x = ws.Get("residual", act, t, d);
        b.Embedding(Weights.Embedding, ids, x);
        observer?.Observe("tok_embd", x);

        var normed = ws.Get("normed", act, t, d);
        var q = ws.Get("q", act, t, h, dh);
        var k = ws.Get("k", act, t, hkv, dh);
        var v = ws.Get("v", act, t, hkv, dh);
        var attn = ws.Get("attn", act, t, h, dh);
        var gate = ws.Get("gate", act, t, c.IntermediateSize);
        var up = ws.Get("up", act, t, c.IntermediateSize);
        var branch = c.SwinNorm ? ws.Get("branch", act, t, d) : null;
        float scale = 1f / MathF.Sqrt(dh);

        for (int i = 0; i < c.NumLayers; i++)
        {
            var w = Weights.Layers[i];
            string p = $"blk.{i}.";
            // Attention block. Pre-norm: x += o(attn(norm(x))); swin: x += norm(o(attn(x))).
            var attnIn = x;
            if (!c.SwinNorm)
            {
                b.RmsNorm(x, w.AttnNorm, c.RmsNormEps, normed);
                observer?.Observe(p + "attn_norm", normed);
                attnIn = normed;
            }
            b.MatMul(attnIn, w.Q, Flat(q));
            b.MatMul(attnIn, w.K, Flat(k));
            b.MatMul(attnIn, w.V, Flat(v));
            observer?.Observe(p + "q", q);
            observer?.Observe(p + "k", k);
            observer?.Observe(p + "v", v);
            if (w.QNormWeight is not null)
            {
                b.HeadLayerNorm(q, w.QNormWeight, w.QNormBias!, ChameleonConfig.QkNormEps, q);
                b.HeadLayerNorm(k, w.KNormWeight!, w.KNormBias!, ChameleonConfig.QkNormEps, k);
                observer?.Observe(p + "q_norm", q);
                observer?.Observe(p + "k_norm", k);
            }
            b.Rope(q, tokens.Positions, c.RopeTheta, q);
            b.Rope(k, tokens.Positions, c.RopeTheta, k);
            observer?.Observe(p + "q_rope", q);
            observer?.Observe(p + "k_rope", k);
            var layerCache = cache.Layers[i];
            b.KvStore(k, v, tokens, layerCache);
            b.Attention(q, layerCache, tokens, scale, attn);
            observer?.Observe(p + "attn_out", attn);
            if (!c.SwinNorm)
            {
                b.MatMul(Flat(attn), w.O, x, accumulate: true);
            }
            else
            {
                b.MatMul(Flat(attn), w.O, branch!);
                b.RmsNorm(branch!, w.AttnNorm, c.RmsNormEps, branch!);
                b.Add(x, branch!, x);
            }
            observer?.Observe(p + "attn_residual", x);

            // MLP block: down(silu(gate(m)) * up(m)).
            var mlpIn = x;
            if (!c.SwinNorm)
            {
                b.RmsNorm(x, w.FfnNorm, c.RmsNormEps, normed);
                observer?.Observe(p + "ffn_norm", normed);
                mlpIn = normed;
            }
            b.MatMul(mlpIn, w.Gate, gate);
            b.MatMul(mlpIn, w.Up, up);
            b.SwiGlu(gate, up, gate);
            observer?.Observe(p + "ffn_act", gate);
            if (!c.SwinNorm)
            {
                b.MatMul(gate, w.Down, x, accumulate: true);
            }
            else
            {
                b.MatMul(gate, w.Down, branch!);
                b.RmsNorm(branch!, w.FfnNorm, c.RmsNormEps, branch!);
                b.Add(x, branch!, x);
            }
            observer?.Observe(p + "out", x);
        }

        // Only the chosen tokens reach the final norm and the 65536-wide output projection.
        int n = batch.LogitIndices.Length;
        var pick = ws.Get("logit_indices", DType.I32, n);
        b.Upload<int>(batch.LogitIndices, pick);
        var selected = ws.Get("selected", act, n, d);
        b.GatherRows(x, pick, selected);
        b.RmsNorm(selected, Weights.FinalNorm, c.RmsNormEps, selected);
        observer?.Observe("output_norm", selected);
        var logits = ws.Get("logits", DType.F32, n, c.VocabSize);
        b.MatMul(selected, Weights.LmHead, logits);
        observer?.Observe("logits", logits);
        return logits;
    }

    /// <summary>[T, H, Dh] seen as [T, H * Dh], the GEMMs' view of a head-split activation.</summary>
    private static Tensor Flat(Tensor headSplit) =>
        headSplit.View([headSplit.Dim(0), headSplit.Dim(1) * headSplit.Dim(2)]);

    public void Dispose()
    {
        _workspace.Dispose();
        Weights.Dispose();
        _checkpoint?.Dispose();
    }
}
