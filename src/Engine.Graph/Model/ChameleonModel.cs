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

    /// <summary>
    /// Adds its terms to the projections it adapts in every forward pass, and takes their gradients in
    /// <see cref="Backward"/> (LoRA adapters applied unmerged, or the gradients of the projections themselves); null:
    /// the weights alone.
    /// </summary>
    public IProjectionAdapter? Adapter { get; set; }

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
    /// One decoder layer on the residual stream x (in place): the attention block, then the MLP block. With
    /// <paramref name="keep"/>, the blocks' intermediates are written there (q and k before and after their norm kept
    /// apart); otherwise scratch buffers are shared by layers.
    /// </summary>
    private void RunLayer(int i, Tensor x, TokenMap tokens, KvCache cache, Training.LayerActivations? keep, IActivationObserver? observer)
    {
        var normed = _workspace.Get("normed", Backend.ActivationType, x.Dim(0), Config.HiddenSize);
        AttentionBlock(i, x, AttentionTensors.For(this, keep, normed, x.Dim(0)), tokens, cache, observer);
        if (keep is not null) Backend.Copy(x, keep.XMid);
        FfnBlock(i, x, FfnTensors.For(this, keep, normed, x.Dim(0)), observer);
    }

    /// <summary>
    /// The attention block's tensors in one layer: its input (the attention norm's output; the residual itself in the
    /// swin variant), q and k straight from their projections and after qk norm and RoPE, v, the attention output
    /// and its log-sum-exp. In training they are the layer's saved activations; otherwise shared scratch.
    /// </summary>
    private readonly record struct AttentionTensors(Tensor Input, Tensor QPre, Tensor Q, Tensor KPre, Tensor K, Tensor V, Tensor Out, Tensor? Lse)
    {
        public static AttentionTensors For(ChameleonModel m, Training.LayerActivations? keep, Tensor normed, int t)
        {
            var (ws, act, c) = (m._workspace, m.Backend.ActivationType, m.Config);
            var qPre = keep?.QPre ?? ws.Get("q", act, t, c.NumHeads, c.HeadDim);
            var kPre = keep?.KPre ?? ws.Get("k", act, t, c.NumKvHeads, c.HeadDim);
            return new(normed, qPre, keep?.Q ?? qPre, kPre, keep?.K ?? kPre, keep?.V ?? ws.Get("v", act, t, c.NumKvHeads, c.HeadDim),
                keep?.Attn ?? ws.Get("attn", act, t, c.NumHeads, c.HeadDim), keep?.Lse);
        }
    }

    /// <summary>
    /// The MLP block's tensors: its input (the FFN norm's output), the gate and up projections, and silu(gate) * up
    /// (written over gate outside training, where gate is not needed again).
    /// </summary>
    private readonly record struct FfnTensors(Tensor Input, Tensor Gate, Tensor Up, Tensor Act)
    {
        public static FfnTensors For(ChameleonModel m, Training.LayerActivations? keep, Tensor normed, int t)
        {
            var (ws, act, f) = (m._workspace, m.Backend.ActivationType, m.Config.IntermediateSize);
            var gate = keep?.Gate ?? ws.Get("gate", act, t, f);
            return new(normed, gate, keep?.Up ?? ws.Get("up", act, t, f), keep is null ? gate : ws.Get("swiglu", act, t, f));
        }
    }

    /// <summary>y = input W^T of one of layer i's projections, and the adapter's term when it adapts that projection.</summary>
    private void Project(int i, Projection p, Tensor input, Tensor output, bool accumulate = false)
    {
        Backend.MatMul(input, Weights.Layers[i].Of(p), output, accumulate);
        if (Adapter is { } adapter && adapter.Adapts(i, p)) adapter.Forward(i, p, input, output);
    }

    /// <summary>Pre-norm: x += o(attn(rope(norm_qk(q(a))), ...)) with a = norm(x); swin: x += norm(o(attn(x))).</summary>
    private void AttentionBlock(int i, Tensor x, AttentionTensors a, TokenMap tokens, KvCache cache, IActivationObserver? observer)
    {
        var (c, b, w) = (Config, Backend, Weights.Layers[i]);
        string p = $"blk.{i}.";
        var input = x;
        if (!c.SwinNorm)
        {
            b.RmsNorm(x, w.AttnNorm, c.RmsNormEps, a.Input);
            observer?.Observe(p + "attn_norm", a.Input);
            input = a.Input;
        }
        Project(i, Projection.Q, input, Flat(a.QPre));
        Project(i, Projection.K, input, Flat(a.KPre));
        Project(i, Projection.V, input, Flat(a.V));
        observer?.Observe(p + "q", a.QPre);
        observer?.Observe(p + "k", a.KPre);
        observer?.Observe(p + "v", a.V);
        if (w.QNormWeight is not null)
        {
            b.HeadLayerNorm(a.QPre, w.QNormWeight, w.QNormBias!, ChameleonConfig.QkNormEps, a.Q);
            b.HeadLayerNorm(a.KPre, w.KNormWeight!, w.KNormBias!, ChameleonConfig.QkNormEps, a.K);
            observer?.Observe(p + "q_norm", a.Q);
            observer?.Observe(p + "k_norm", a.K);
        }
        else if (!ReferenceEquals(a.Q, a.QPre))
        {
            b.Copy(a.QPre, a.Q);
            b.Copy(a.KPre, a.K);
        }
        b.Rope(a.Q, tokens.Positions, c.RopeTheta, a.Q);
        b.Rope(a.K, tokens.Positions, c.RopeTheta, a.K);
        observer?.Observe(p + "q_rope", a.Q);
        observer?.Observe(p + "k_rope", a.K);
        var layerCache = cache.Layers[i];
        b.KvStore(a.K, a.V, tokens, layerCache);
        b.Attention(a.Q, layerCache, tokens, AttentionScale, a.Out, a.Lse);
        observer?.Observe(p + "attn_out", a.Out);
        AddBranch(i, Projection.O, Flat(a.Out), w.AttnNorm, x);
        observer?.Observe(p + "attn_residual", x);
    }

    /// <summary>x += down(silu(gate(m)) * up(m)) with m = norm(x) (pre-norm); swin: x += norm(down(...)) with m = x.</summary>
    private void FfnBlock(int i, Tensor x, FfnTensors f, IActivationObserver? observer)
    {
        var (c, b, w) = (Config, Backend, Weights.Layers[i]);
        string p = $"blk.{i}.";
        var input = x;
        if (!c.SwinNorm)
        {
            b.RmsNorm(x, w.FfnNorm, c.RmsNormEps, f.Input);
            observer?.Observe(p + "ffn_norm", f.Input);
            input = f.Input;
        }
        Project(i, Projection.Gate, input, f.Gate);
        Project(i, Projection.Up, input, f.Up);
        b.SwiGlu(f.Gate, f.Up, f.Act);
        observer?.Observe(p + "ffn_act", f.Act);
        AddBranch(i, Projection.Down, f.Act, w.FfnNorm, x);
        observer?.Observe(p + "out", x);
    }

    /// <summary>A block's output projection onto the residual: x += proj(h) (pre-norm), x += norm(proj(h)) (swin).</summary>
    private void AddBranch(int i, Projection projection, Tensor h, Tensor swinNorm, Tensor x)
    {
        if (!Config.SwinNorm)
        {
            Project(i, projection, h, x, accumulate: true);
            return;
        }
        var branch = _workspace.Get("branch", Backend.ActivationType, x.Dim(0), Config.HiddenSize);
        Project(i, projection, h, branch);
        Backend.RmsNorm(branch, swinNorm, Config.RmsNormEps, branch);
        Backend.Add(x, branch, x);
    }

    private float AttentionScale => 1f / MathF.Sqrt(Config.HeadDim);

    /// <summary>
    /// Backpropagates through a training forward: from the gradient of the loss w.r.t. the normed hidden states of
    /// the logit tokens (<paramref name="dHidden"/> [n, D]) down to the context slots, and into the
    /// <see cref="Adapter"/>'s gradients where it adapts a projection (the model's weights themselves stay as they
    /// are). The gradient reaching an injected slot at the input of layer l is added to row TableRow(l) of
    /// <paramref name="contextGrad"/> [rows, D] F32 and then discarded (the state there was overwritten). The KV
    /// cache must still hold this batch's keys and values. <paramref name="contextGrad"/> may be null for a batch without
    /// context slots.
    /// </summary>
    public void Backward(Training.TrainingActivations saved, KvCache cache, Tensor dHidden, Tensor? contextGrad)
    {
        var c = Config;
        var b = Backend;
        var ws = _workspace;
        var batch = saved.Batch;
        int t = batch.Count, d = c.HiddenSize, n = batch.LogitIndices.Length;
        OpCheckShape(dHidden, n, d, "dHidden");

        // Output norm and the row gather.
        var dx = ws.Get("d_residual", b.ActivationType, t, d);
        b.Zero(dx);
        var dSel = ws.Get("d_selected", b.ActivationType, n, d);
        b.RmsNormBackward(saved.FinalRows, Weights.FinalNorm, c.RmsNormEps, dHidden, dSel);
        var pick = ws.Get("logit_indices", DType.I32, n);
        b.Upload<int>(batch.LogitIndices, pick);
        b.ScatterAddRows(dSel, pick, dx);

        var grads = BlockGradients.For(this, t);
        for (int i = c.NumLayers - 1; i >= 0; i--)
        {
            var layer = saved.Layer(i);
            if (saved.Mode == Training.ActivationMode.Recompute)
            {
                var x = ws.Get("recompute_x", b.ActivationType, t, d);
                b.Copy(saved.LayerInputs[i], x);
                RunLayer(i, x, saved.Tokens, cache, layer, null);
            }
            FfnBlockBackward(i, layer, dx, grads);
            AttentionBlockBackward(i, saved.LayerInputs[i], layer, saved.Tokens, cache, dx, grads);
            SlotGradients(batch, i, dx, contextGrad);
        }
    }

    /// <summary>The backward's scratch gradients, shared by every layer: one per intermediate of a block (the KV cache's are the attention block's own).</summary>
    private readonly record struct BlockGradients(Tensor DAct, Tensor DGate, Tensor DUp, Tensor DNorm, Tensor DAttn, Tensor DQ,
        Tensor DQPre, Tensor DK, Tensor DKPre, Tensor DV)
    {
        public static BlockGradients For(ChameleonModel m, int t)
        {
            var (ws, act, c) = (m._workspace, m.Backend.ActivationType, m.Config);
            int h = c.NumHeads, hkv = c.NumKvHeads, dh = c.HeadDim, f = c.IntermediateSize;
            return new(ws.Get("d_act", act, t, f), ws.Get("d_gate", act, t, f), ws.Get("d_up", act, t, f),
                ws.Get("d_norm", act, t, c.HiddenSize), ws.Get("d_attn", act, t, h, dh), ws.Get("d_q", act, t, h, dh),
                ws.Get("d_q_pre", act, t, h, dh), ws.Get("d_k", act, t, hkv, dh), ws.Get("d_k_pre", act, t, hkv, dh),
                ws.Get("d_v", act, t, hkv, dh));
        }
    }

    /// <summary>
    /// The input gradient of a projection (dInput = dOutput W, added when accumulating), then the adapter's share of
    /// it and its own gradients; <paramref name="input"/> is produced on demand, only for an adapted projection.
    /// </summary>
    private void ProjectBackward(int i, Projection p, Func<Tensor> input, Tensor dOutput, Tensor dInput, bool accumulate = false)
    {
        Backend.MatMulInputGrad(dOutput, Weights.Layers[i].Of(p), dInput, accumulate);
        if (Adapter is { } adapter && adapter.Adapts(i, p)) adapter.Backward(i, p, input(), dOutput, dInput);
    }

    /// <summary>MLP block: x_out = x_mid + down(silu(gate(m)) * up(m)), m = norm(x_mid). dx enters as dL/dx_out, leaves as dL/dx_mid.</summary>
    private void FfnBlockBackward(int i, Training.LayerActivations saved, Tensor dx, BlockGradients g)
    {
        var (c, b, w) = (Config, Backend, Weights.Layers[i]);
        int t = dx.Dim(0);
        Tensor Normed() => RecomputedNorm(saved.XMid, w.FfnNorm);
        Tensor Act()
        {
            var act = _workspace.Get("swiglu", b.ActivationType, t, c.IntermediateSize);
            b.SwiGlu(saved.Gate, saved.Up, act);
            return act;
        }
        ProjectBackward(i, Projection.Down, Act, dx, g.DAct);
        b.SwiGluBackward(saved.Gate, saved.Up, g.DAct, g.DGate, g.DUp);
        // The input is recomputed once for both projections when both are adapted.
        Tensor? normed = null;
        ProjectBackward(i, Projection.Gate, () => normed ??= Normed(), g.DGate, g.DNorm);
        ProjectBackward(i, Projection.Up, () => normed ??= Normed(), g.DUp, g.DNorm, accumulate: true);
        b.RmsNormBackward(saved.XMid, w.FfnNorm, c.RmsNormEps, g.DNorm, dx, accumulate: true);
    }

    /// <summary>
    /// Attention block: x_mid = x_in + o(attn(rope(norm_qk(q(a))), ...)), a = norm(x_in). dx enters as dL/dx_mid,
    /// leaves as dL/dx_in.
    /// </summary>
    private void AttentionBlockBackward(int i, Tensor xIn, Training.LayerActivations saved, TokenMap tokens, KvCache cache, Tensor dx, BlockGradients g)
    {
        var (c, b, w) = (Config, Backend, Weights.Layers[i]);
        var layerCache = cache.Layers[i];
        var dKeys = _workspace.Get("d_cache_k", b.ActivationType, layerCache.Keys.Shape);
        var dValues = _workspace.Get("d_cache_v", b.ActivationType, layerCache.Values.Shape);
        ProjectBackward(i, Projection.O, () => Flat(saved.Attn), dx, Flat(g.DAttn));
        b.Zero(dKeys);
        b.Zero(dValues);
        b.AttentionBackward(saved.Q, layerCache, tokens, AttentionScale, saved.Attn, saved.Lse, g.DAttn, g.DQ, dKeys, dValues);
        b.KvGather(dKeys, dValues, tokens, g.DK, g.DV);
        b.RopeBackward(g.DQ, tokens.Positions, c.RopeTheta, g.DQ);
        b.RopeBackward(g.DK, tokens.Positions, c.RopeTheta, g.DK);
        if (w.QNormWeight is not null)
        {
            b.HeadLayerNormBackward(saved.QPre, w.QNormWeight, ChameleonConfig.QkNormEps, g.DQ, g.DQPre);
            b.HeadLayerNormBackward(saved.KPre, w.KNormWeight!, ChameleonConfig.QkNormEps, g.DK, g.DKPre);
        }
        else
        {
            b.Copy(g.DQ, g.DQPre);
            b.Copy(g.DK, g.DKPre);
        }
        Tensor? normed = null;
        Tensor Normed() => normed ??= RecomputedNorm(xIn, w.AttnNorm);
        ProjectBackward(i, Projection.Q, Normed, Flat(g.DQPre), g.DNorm);
        ProjectBackward(i, Projection.K, Normed, Flat(g.DKPre), g.DNorm, accumulate: true);
        ProjectBackward(i, Projection.V, Normed, Flat(g.DV), g.DNorm, accumulate: true);
        b.RmsNormBackward(xIn, w.AttnNorm, c.RmsNormEps, g.DNorm, dx, accumulate: true);
    }

    /// <summary>A block's normed input, recomputed from its saved residual (the forward shares one buffer between blocks).</summary>
    private Tensor RecomputedNorm(Tensor residual, Tensor weight)
    {
        var normed = _workspace.Get("normed", Backend.ActivationType, residual.Dim(0), Config.HiddenSize);
        Backend.RmsNorm(residual, weight, Config.RmsNormEps, normed);
        return normed;
    }

    /// <summary>
    /// Context vectors of layer i. Additive injections (applied after the replacements): their vectors get the state's
    /// gradient, which flows on. Replaced slots: what reaches an overwritten state goes to its vector, and no further down.
    /// </summary>
    private void SlotGradients(ForwardBatch batch, int i, Tensor dx, Tensor? contextGrad)
    {
        var (addTokens, addRows) = batch.AdditionsAt(i);
        var (slotTokens, tableRows) = batch.InjectionsAt(i);
        if (addTokens.Length + slotTokens.Length == 0) return;
        if (contextGrad is null) throw new ArgumentException("the batch has context-token slots but no context gradient was given", nameof(contextGrad));
        if (addTokens.Length > 0)
            GatherContextGradient(dx, addTokens, addRows, contextGrad);
        if (slotTokens.Length > 0)
            Backend.ZeroRows(GatherContextGradient(dx, slotTokens, tableRows, contextGrad), dx);
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
