using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>The intermediates of one decoder layer that its backward pass reads.</summary>
public sealed class LayerActivations : IDisposable
{
    private readonly Tensor[] _owned;

    /// <param name="allocate">Where the tensors come from (dtype, shape, name); null: owned allocations of the backend.</param>
    public LayerActivations(IBackend b, ChameleonConfig c, int tokens, Func<DType, int[], string, Tensor>? allocate = null, string prefix = "")
    {
        Tensor A(DType dtype, int[] shape, string name) => allocate is null ? b.Allocate(dtype, shape, prefix + name) : allocate(dtype, shape, prefix + name);
        var act = b.ActivationType;
        int t = tokens, d = c.HiddenSize, h = c.NumHeads, kv = c.NumKvHeads, dh = c.HeadDim, f = c.IntermediateSize;
        _owned =
        [
            XMid = A(act, [t, d], "x_mid"),
            QPre = A(act, [t, h, dh], "q_pre"),
            Q = A(act, [t, h, dh], "q"),
            KPre = A(act, [t, kv, dh], "k_pre"),
            K = A(act, [t, kv, dh], "k"),
            V = A(act, [t, kv, dh], "v"),
            Attn = A(act, [t, h, dh], "attn"),
            Lse = A(DType.F32, [t, h], "lse"),
            Gate = A(act, [t, f], "gate"),
            Up = A(act, [t, f], "up"),
        ];
    }

    /// <summary>The residual after the attention block (input of the MLP block's norm).</summary>
    public Tensor XMid { get; }
    /// <summary>q and k straight from their projections (before qk norm), and after norm and RoPE.</summary>
    public Tensor QPre { get; }
    public Tensor Q { get; }
    public Tensor KPre { get; }
    public Tensor K { get; }
    public Tensor V { get; }
    public Tensor Attn { get; }
    public Tensor Lse { get; }
    public Tensor Gate { get; }
    public Tensor Up { get; }

    public long Bytes => _owned.Sum(t => t.ByteLength);

    public static long BytesFor(ChameleonConfig c, int tokens, DType act) =>
        (long)tokens * ((c.HiddenSize * 3L + c.KvDim * 3L + c.HiddenSize * 2L + c.IntermediateSize * 2L) * act.SizeOf() + 4L * c.NumHeads);

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
    }
}
