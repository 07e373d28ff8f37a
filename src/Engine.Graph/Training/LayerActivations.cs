using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>The intermediates of one decoder layer that its backward pass reads.</summary>
public sealed class LayerActivations : IDisposable
{
    private readonly Tensor[] _owned;

    public LayerActivations(IBackend b, ChameleonConfig c, int tokens)
    {
        var act = b.ActivationType;
        int t = tokens, d = c.HiddenSize, h = c.NumHeads, kv = c.NumKvHeads, dh = c.HeadDim, f = c.IntermediateSize;
        _owned =
        [
            XMid = b.Allocate(act, [t, d], "x_mid"),
            QPre = b.Allocate(act, [t, h, dh], "q_pre"),
            Q = b.Allocate(act, [t, h, dh], "q"),
            KPre = b.Allocate(act, [t, kv, dh], "k_pre"),
            K = b.Allocate(act, [t, kv, dh], "k"),
            V = b.Allocate(act, [t, kv, dh], "v"),
            Attn = b.Allocate(act, [t, h, dh], "attn"),
            Lse = b.Allocate(DType.F32, [t, h], "lse"),
            Gate = b.Allocate(act, [t, f], "gate"),
            Up = b.Allocate(act, [t, f], "up"),
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
