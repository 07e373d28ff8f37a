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
    /// <param name="contextTable">Context-token vectors [rows, D] F32 that the batch's injections read.</param>
    public Tensor Forward(ForwardBatch batch, KvCache cache, IActivationObserver? observer = null, Tensor? contextTable = null)
    {
        var hidden = ForwardHidden(batch, cache, observer, contextTable);
        var logits = _workspace.Get("logits", DType.F32, hidden.Dim(0), Config.VocabSize);
        Backend.MatMul(hidden, Weights.LmHead, logits);
        observer?.Observe("logits", logits);
        return logits;
    }

    /// <summary>
    /// The forward pass up to the output norm: returns the normed hidden states [n, D] of the logit tokens (the
    /// input of the output head). With <paramref name="save"/>, keeps what <see cref="Backward"/> needs.
    /// </summary>
    public Tensor ForwardHidden(ForwardBatch batch, KvCache cache, IActivationObserver? observer = null,
        Tensor? contextTable = null, Training.TrainingActivations? save = null)
    {
        batch.Validate(Config.VocabSize, cache);
        if (batch.Injections.Count > 0 && contextTable is null)
            throw new ArgumentException("the batch has context-token slots but no context table was given");
        if (save is not null && Config.SwinNorm)
            throw new NotSupportedException("training through the swin_norm variant (Chameleon 34B) is not supported; Lumina-mGPT 7B is pre-norm");
        var c = Config;
        var b = Backend;
        var act = b.ActivationType;
        int t = batch.Count, d = c.HiddenSize;
        var ws = _workspace;

        var ids = ws.Get("ids", DType.I32, t);
        b.Upload<int>(batch.Tokens, ids);
        TokenMap tokens;
        if (save is not null)
            tokens = save.Tokens;
        else
        {
            tokens = new TokenMap(ws.Get("rows", DType.I32, t), ws.Get("positions", DType.I32, t), ws.Get("tags", DType.I32, t));
            b.Upload<int>(batch.Rows, tokens.Rows);
            b.Upload<int>(batch.Positions, tokens.Positions);
            b.Upload<int>(batch.Tags, tokens.Tags);
        }

        var x = ws.Get("residual", act, t, d);
        b.Embedding(Weights.Embedding, ids, x);
        observer?.Observe("tok_embd", x);

        for (int i = 0; i < c.NumLayers; i++)
        {
            Inject(batch, i, contextTable, x);
            if (save is not null)
            {
                b.Copy(x, save.LayerInputs[i]);
                // In Recompute mode the backward re-runs the layer; nothing else needs keeping now.
                var keep = save.Mode == Training.ActivationMode.Keep ? save.Layer(i) : null;
                RunLayer(i, x, tokens, cache, keep, observer);
            }
            else
                RunLayer(i, x, tokens, cache, null, observer);
        }

        // Only the chosen tokens reach the final norm and the 65536-wide output projection.
        int n = batch.LogitIndices.Length;
        var pick = ws.Get("logit_indices", DType.I32, n);
        b.Upload<int>(batch.LogitIndices, pick);
        var selected = ws.Get("selected", act, n, d);
        b.GatherRows(x, pick, selected);
        if (save is not null) b.Copy(selected, save.FinalRows);
        b.RmsNorm(selected, Weights.FinalNorm, c.RmsNormEps, selected);
        observer?.Observe("output_norm", selected);
        return selected;
    }

    /// <summary>
    /// Overwrites the hidden state of every context slot active at the input of <paramref name="layer"/>, then adds the
    /// additive injections (index embeddings) there.
    /// </summary>
    private void Inject(ForwardBatch batch, int layer, Tensor? contextTable, Tensor x)
    {
        if (batch.Injections.Count == 0) return;
        var (slotTokens, tableRows) = batch.InjectionsAt(layer);
        if (slotTokens.Length > 0)
            Backend.ScatterRows(InjectedVectors(slotTokens, tableRows, contextTable!, out var slots), slots, x);
        var (addTokens, addRows) = batch.AdditionsAt(layer);
        if (addTokens.Length > 0)
            Backend.ScatterAddRows(InjectedVectors(addTokens, addRows, contextTable!, out var added), added, x);
    }

    /// <summary>The context table's rows for the injected tokens, and those tokens' indices on the backend.</summary>
    private Tensor InjectedVectors(int[] tokens, int[] tableRows, Tensor contextTable, out Tensor tokenIndices)
    {
        var ws = _workspace;
        var rows = ws.Get("inject_rows", DType.I32, tableRows.Length);
        tokenIndices = ws.Get("inject_tokens", DType.I32, tokens.Length);
        Backend.Upload<int>(tableRows, rows);
        Backend.Upload<int>(tokens, tokenIndices);
        var vectors = ws.Get("inject_vectors", contextTable.DType, tokens.Length, Config.HiddenSize);
        Backend.GatherRows(contextTable, rows, vectors);
        return vectors;
    }

    /// <summary>
    /// One decoder layer on the residual stream x (in place). With <paramref name="keep"/>, its intermediates are
    /// written there (q and k before and after their norm kept apart); otherwise scratch buffers are shared by layers.
    /// </summary>
    private void RunLayer(int i, Tensor x, TokenMap tokens, KvCache cache, Training.LayerActivations? keep, IActivationObserver? observer)
    {
        var c = Config;
        var b = Backend;
        var ws = _workspace;
        var act = b.ActivationType;
        int t = x.Dim(0), d = c.HiddenSize, h = c.NumHeads, hkv = c.NumKvHeads, dh = c.HeadDim, f = c.IntermediateSize;
        var w = Weights.Layers[i];
        string p = $"blk.{i}.";
        var normed = ws.Get("normed", act, t, d);
        var qPre = keep?.QPre ?? ws.Get("q", act, t, h, dh);
        var q = keep?.Q ?? qPre;
        var kPre = keep?.KPre ?? ws.Get("k", act, t, hkv, dh);
        var k = keep?.K ?? kPre;
        var v = keep?.V ?? ws.Get("v", act, t, hkv, dh);
        var attn = keep?.Attn ?? ws.Get("attn", act, t, h, dh);
        var gate = keep?.Gate ?? ws.Get("gate", act, t, f);
        var up = keep?.Up ?? ws.Get("up", act, t, f);
        var swiglu = keep is null ? gate : ws.Get("swiglu", act, t, f);
        var branch = c.SwinNorm ? ws.Get("branch", act, t, d) : null;

        // Attention block. Pre-norm: x += o(attn(norm(x))); swin: x += norm(o(attn(x))).
        var attnIn = x;
        if (!c.SwinNorm)
        {
            b.RmsNorm(x, w.AttnNorm, c.RmsNormEps, normed);
            observer?.Observe(p + "attn_norm", normed);
            attnIn = normed;
        }
        b.MatMul(attnIn, w.Q, Flat(qPre));
        b.MatMul(attnIn, w.K, Flat(kPre));
        b.MatMul(attnIn, w.V, Flat(v));
        observer?.Observe(p + "q", qPre);
        observer?.Observe(p + "k", kPre);
        observer?.Observe(p + "v", v);
        if (w.QNormWeight is not null)
        {
            b.HeadLayerNorm(qPre, w.QNormWeight, w.QNormBias!, ChameleonConfig.QkNormEps, q);
            b.HeadLayerNorm(kPre, w.KNormWeight!, w.KNormBias!, ChameleonConfig.QkNormEps, k);
            observer?.Observe(p + "q_norm", q);
            observer?.Observe(p + "k_norm", k);
        }
        else if (keep is not null)
        {
            b.Copy(qPre, q);
            b.Copy(kPre, k);
        }
        b.Rope(q, tokens.Positions, c.RopeTheta, q);
        b.Rope(k, tokens.Positions, c.RopeTheta, k);
        observer?.Observe(p + "q_rope", q);
        observer?.Observe(p + "k_rope", k);
        var layerCache = cache.Layers[i];
        b.KvStore(k, v, tokens, layerCache);
        b.Attention(q, layerCache, tokens, 1f / MathF.Sqrt(dh), attn, keep?.Lse);
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
        if (keep is not null) b.Copy(x, keep.XMid);

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
        b.SwiGlu(gate, up, swiglu);
        observer?.Observe(p + "ffn_act", swiglu);
        if (!c.SwinNorm)
        {
            b.MatMul(swiglu, w.Down, x, accumulate: true);
        }
        else
        {
            b.MatMul(swiglu, w.Down, branch!);
            b.RmsNorm(branch!, w.FfnNorm, c.RmsNormEps, branch!);
            b.Add(x, branch!, x);
        }
        observer?.Observe(p + "out", x);
    }

    /// <summary>
    /// Backpropagates through a training forward (weights frozen): from the gradient of the loss w.r.t. the normed
    /// hidden states of the logit tokens (<paramref name="dHidden"/> [n, D]) down to the context slots. The gradient
    /// reaching an injected slot at the input of layer l is added to row TableRow(l) of <paramref name="contextGrad"/>
    /// [rows, D] F32 and then discarded (the state there was overwritten). The KV cache must still hold this batch's
    /// keys and values.
    /// </summary>
    public void Backward(Training.TrainingActivations saved, KvCache cache, Tensor dHidden, Tensor contextGrad)
    {
        var c = Config;
        var b = Backend;
        var ws = _workspace;
        var act = b.ActivationType;
        var batch = saved.Batch;
        var tokens = saved.Tokens;
        int t = batch.Count, d = c.HiddenSize, h = c.NumHeads, hkv = c.NumKvHeads, dh = c.HeadDim, f = c.IntermediateSize;
        int n = batch.LogitIndices.Length;
        OpCheckShape(dHidden, n, d, "dHidden");

        // Output norm and the row gather.
        var dx = ws.Get("d_residual", act, t, d);
        b.Zero(dx);
        var dSel = ws.Get("d_selected", act, n, d);
        b.RmsNormBackward(saved.FinalRows, Weights.FinalNorm, c.RmsNormEps, dHidden, dSel);
        var pick = ws.Get("logit_indices", DType.I32, n);
        b.Upload<int>(batch.LogitIndices, pick);
        b.ScatterAddRows(dSel, pick, dx);

        var dAct = ws.Get("d_act", act, t, f);
        var dGate = ws.Get("d_gate", act, t, f);
        var dUp = ws.Get("d_up", act, t, f);
        var dNorm = ws.Get("d_norm", act, t, d);
        var dAttn = ws.Get("d_attn", act, t, h, dh);
        var dQ = ws.Get("d_q", act, t, h, dh);
        var dQPre = ws.Get("d_q_pre", act, t, h, dh);
        var dK = ws.Get("d_k", act, t, hkv, dh);
        var dKPre = ws.Get("d_k_pre", act, t, hkv, dh);
        var dV = ws.Get("d_v", act, t, hkv, dh);
        var dKeys = ws.Get("d_cache_k", act, cache.Rows, hkv, cache.Capacity, dh);
        var dValues = ws.Get("d_cache_v", act, cache.Rows, hkv, cache.Capacity, dh);
        for (int i = c.NumLayers - 1; i >= 0; i--)
        {
            var w = Weights.Layers[i];
            var L = saved.Layer(i);
            if (saved.Mode == Training.ActivationMode.Recompute)
            {
                var x = ws.Get("recompute_x", act, t, d);
                b.Copy(saved.LayerInputs[i], x);
                RunLayer(i, x, tokens, cache, L, null);
            }

            // MLP block: x_out = x_mid + down(silu(gate(m)) * up(m)), m = norm(x_mid).
            b.MatMulInputGrad(dx, w.Down, dAct);
            b.SwiGluBackward(L.Gate, L.Up, dAct, dGate, dUp);
            b.MatMulInputGrad(dGate, w.Gate, dNorm);
            b.MatMulInputGrad(dUp, w.Up, dNorm, accumulate: true);
            b.RmsNormBackward(L.XMid, w.FfnNorm, c.RmsNormEps, dNorm, dx, accumulate: true);

            // Attention block: x_mid = x_in + o(attn(rope(norm_qk(q(a))), ...)), a = norm(x_in).
            b.MatMulInputGrad(dx, w.O, Flat(dAttn));
            b.Zero(dKeys);
            b.Zero(dValues);
            b.AttentionBackward(L.Q, cache.Layers[i], tokens, 1f / MathF.Sqrt(dh), L.Attn, L.Lse, dAttn, dQ, dKeys, dValues);
            b.KvGather(dKeys, dValues, tokens, dK, dV);
            b.RopeBackward(dQ, tokens.Positions, c.RopeTheta, dQ);
            b.RopeBackward(dK, tokens.Positions, c.RopeTheta, dK);
            if (w.QNormWeight is not null)
            {
                b.HeadLayerNormBackward(L.QPre, w.QNormWeight, ChameleonConfig.QkNormEps, dQ, dQPre);
                b.HeadLayerNormBackward(L.KPre, w.KNormWeight!, ChameleonConfig.QkNormEps, dK, dKPre);
            }
            else
            {
                b.Copy(dQ, dQPre);
                b.Copy(dK, dKPre);
            }
            b.MatMulInputGrad(Flat(dQPre), w.Q, dNorm);
            b.MatMulInputGrad(Flat(dKPre), w.K, dNorm, accumulate: true);
            b.MatMulInputGrad(Flat(dV), w.V, dNorm, accumulate: true);
            b.RmsNormBackward(saved.LayerInputs[i], w.AttnNorm, c.RmsNormEps, dNorm, dx, accumulate: true);

            // Additive injections (applied after the replacements): their vectors get the state's gradient, which flows on.
            var (addTokens, addRows) = batch.AdditionsAt(i);
            if (addTokens.Length > 0)
                GatherContextGradient(dx, addTokens, addRows, contextGrad);
            // Context slots: what reaches an overwritten state goes to its vector, and no further down.
            var (slotTokens, tableRows) = batch.InjectionsAt(i);
            if (slotTokens.Length > 0)
                b.ZeroRows(GatherContextGradient(dx, slotTokens, tableRows, contextGrad), dx);
        }
    }

    /// <summary>Adds the gradient at <paramref name="tokens"/> of dx to rows <paramref name="tableRows"/> of contextGrad; returns the token indices.</summary>
    private Tensor GatherContextGradient(Tensor dx, int[] tokens, int[] tableRows, Tensor contextGrad)
    {
        var ws = _workspace;
        var slots = ws.Get("inject_tokens", DType.I32, tokens.Length);
        var rows = ws.Get("inject_rows", DType.I32, tableRows.Length);
        Backend.Upload<int>(tokens, slots);
        Backend.Upload<int>(tableRows, rows);
        var g = ws.Get("inject_grad", contextGrad.DType, tokens.Length, Config.HiddenSize);
        Backend.GatherRows(dx, slots, g);
        Backend.ScatterAddRows(g, rows, contextGrad);
        return slots;
    }

    private static void OpCheckShape(Tensor t, int rows, int cols, string name)
    {
        if (t.Rank != 2 || t.Dim(0) != rows || t.Dim(1) != cols)
            throw new ArgumentException($"{name} has shape [{string.Join(", ", t.Shape.ToArray())}], expected [{rows}, {cols}]");
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
