using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// What a training forward of one packed batch leaves for its backward: each layer's input (after context
/// injection), each layer's intermediates (Keep) or one reusable set (Recompute), the final rows before the output
/// norm, and a copy of the token map.
/// </summary>
public sealed class TrainingActivations : IDisposable
{
    private readonly List<IDisposable> _owned = new();

    /// <param name="storage">
    /// Reusable buffers for the tensors (a trainer's, so that every pass does not allocate and free gigabytes of device
    /// memory); null: this object allocates and frees its own.
    /// </param>
    public TrainingActivations(IBackend b, ChameleonConfig c, ForwardBatch batch, ActivationMode mode, Workspace? storage = null)
    {
        Tensor A(DType dtype, int[] shape, string name) => storage is null ? Own(b.Allocate(dtype, shape, name)) : storage.Get(name, dtype, shape);
        Mode = mode;
        Batch = batch;
        int t = batch.Count;
        LayerInputs = new Tensor[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++)
            LayerInputs[i] = A(b.ActivationType, [t, c.HiddenSize], $"x_in.{i}");
        Layers = new LayerActivations[mode == ActivationMode.Keep ? c.NumLayers : 1];
        for (int i = 0; i < Layers.Length; i++)
            Layers[i] = Own(new LayerActivations(b, c, t, storage is null ? null : (dt, shape, name) => storage.Get(name, dt, shape), $"layer.{i}."));
        FinalRows = A(b.ActivationType, [batch.LogitIndices.Length, c.HiddenSize], "final_rows");
        Tokens = new TokenMap(A(DType.I32, [t], "rows"), A(DType.I32, [t], "positions"), A(DType.I32, [t], "tags"));
        b.Upload<int>(batch.Rows, Tokens.Rows);
        b.Upload<int>(batch.Positions, Tokens.Positions);
        b.Upload<int>(batch.Tags, Tokens.Tags);
    }

    public ActivationMode Mode { get; }
    public ForwardBatch Batch { get; }
    public Tensor[] LayerInputs { get; }
    public LayerActivations[] Layers { get; }
    public Tensor FinalRows { get; }
    public TokenMap Tokens { get; }

    /// <summary>The saved intermediates of layer i (in Recompute mode, the one shared set).</summary>
    public LayerActivations Layer(int i) => Layers[Mode == ActivationMode.Keep ? i : 0];

    public long Bytes => LayerInputs.Sum(t => t.ByteLength) + Layers.Sum(l => l.Bytes) + FinalRows.ByteLength;

    /// <summary>Bytes a training forward of <paramref name="tokens"/> tokens keeps, for the memory plan.</summary>
    public static long BytesFor(ChameleonConfig c, int tokens, int outputRows, DType act, ActivationMode mode) =>
        (long)c.NumLayers * tokens * c.HiddenSize * act.SizeOf()
        + (mode == ActivationMode.Keep ? c.NumLayers : 1) * LayerActivations.BytesFor(c, tokens, act)
        + (long)outputRows * c.HiddenSize * act.SizeOf() + 12L * tokens;

    private T Own<T>(T d) where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
    }
}
