using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Lora;

/// <summary>
/// LoRA adapters applied unmerged to a model's projections (set as <see cref="ChameleonModel.Adapter"/>): each
/// adapted projection gets, per adapter, y += (x A^T) B_s^T with B_s = scale * B kept on the device (F32), so no op
/// has to scale. Trainable (one adapter): the backward accumulates dA and dB_s, and the host gradient of B is
/// scale * dB_s:
/// u = x A^T; dB_s += dy^T u; du = dy B_s; dA += du^T x; dx += du A.
/// </summary>
public sealed class LoraProjections : IProjectionAdapter, IDisposable
{
    private readonly IBackend _b;
    private readonly Workspace _workspace;
    private readonly LoraAdapter[] _adapters;
    private readonly Dictionary<(int Layer, Projection P), (Tensor A, Tensor BScaled)>[] _weights;
    private readonly Dictionary<(int Layer, Projection P), (Tensor A, Tensor BScaled)>? _grads;

    /// <param name="trainable">Keep gradients for <see cref="Backward"/>: only with exactly one adapter.</param>
    public LoraProjections(IBackend backend, IReadOnlyList<LoraAdapter> adapters, bool trainable = false)
    {
        if (adapters.Count == 0) throw new ArgumentException("no LoRA adapter given", nameof(adapters));
        if (trainable && adapters.Count != 1) throw new ArgumentException("only one LoRA adapter can be trained at a time", nameof(adapters));
        _b = backend;
        _workspace = new Workspace(backend);
        _adapters = adapters.ToArray();
        _weights = new Dictionary<(int, Projection), (Tensor, Tensor)>[_adapters.Length];
        try
        {
            for (int n = 0; n < _adapters.Length; n++)
            {
                _weights[n] = Allocate(_adapters[n], "lora");
                Upload(n);
            }
            if (trainable)
            {
                _grads = Allocate(_adapters[0], "lora_grad");
                ZeroGradients();
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private Dictionary<(int, Projection), (Tensor, Tensor)> Allocate(LoraAdapter adapter, string prefix)
    {
        var map = new Dictionary<(int, Projection), (Tensor, Tensor)>();
        foreach (var p in adapter.Pairs)
        {
            string name = $"{prefix}.{p.Layer}.{p.Projection.ModulePath()}";
            var a = _b.Allocate(DType.F32, [adapter.Rank, p.In], name + ".A");
            try
            {
                map[(p.Layer, p.Projection)] = (a, _b.Allocate(DType.F32, [p.Out, adapter.Rank], name + ".B"));
            }
            catch
            {
                a.Dispose();
                throw;
            }
        }
        return map;
    }

    /// <summary>Copies adapter <paramref name="index"/>'s host values (after an optimizer step) to the device.</summary>
    public void Upload(int index = 0)
    {
        var adapter = _adapters[index];
        float scale = adapter.Scale;
        foreach (var p in adapter.Pairs)
        {
            var (a, bs) = _weights[index][(p.Layer, p.Projection)];
            _b.Upload<float>(p.A, a);
            _b.Upload<float>(p.B.Select(v => v * scale).ToArray(), bs);
        }
    }

    public void ZeroGradients()
    {
        foreach (var (a, bs) in Gradients.Values)
        {
            _b.Zero(a);
            _b.Zero(bs);
        }
    }

    /// <summary>
    /// The accumulated gradients w.r.t. the trained adapter's A and B, laid out as <see cref="LoraAdapter.CopyTo"/>
    /// lays out its values.
    /// </summary>
    public void DownloadGradients(Span<float> destination)
    {
        var adapter = _adapters[0];
        int at = 0;
        foreach (var p in adapter.Pairs)
        {
            var (a, bs) = Gradients[(p.Layer, p.Projection)];
            _b.Download<float>(a, destination.Slice(at, p.A.Length));
            at += p.A.Length;
            var gb = destination.Slice(at, p.B.Length);
            _b.Download<float>(bs, gb);
            // dL/dB = scale * dL/dB_s, since B_s = scale * B.
            for (int i = 0; i < gb.Length; i++) gb[i] *= adapter.Scale;
            at += p.B.Length;
        }
    }

    private Dictionary<(int Layer, Projection P), (Tensor A, Tensor BScaled)> Gradients =>
        _grads ?? throw new InvalidOperationException("these LoRA adapters were not set up for training");

    public bool Adapts(int layer, Projection p)
    {
        foreach (var map in _weights)
            if (map.ContainsKey((layer, p))) return true;
        return false;
    }

    public void Forward(int layer, Projection p, Tensor input, Tensor output)
    {
        for (int n = 0; n < _adapters.Length; n++)
        {
            if (!_weights[n].TryGetValue((layer, p), out var w)) continue;
            var u = _workspace.Get("lora_u", _b.ActivationType, input.Dim(0), _adapters[n].Rank);
            _b.MatMul(input, w.A, u);
            _b.MatMul(u, w.BScaled, output, accumulate: true);
        }
    }

    public void Backward(int layer, Projection p, Tensor input, Tensor dOutput, Tensor dInput)
    {
        var (gradA, gradBScaled) = Gradients[(layer, p)];
        var (a, bScaled) = _weights[0][(layer, p)];
        int t = input.Dim(0), rank = _adapters[0].Rank;
        var u = _workspace.Get("lora_u", _b.ActivationType, t, rank);
        var du = _workspace.Get("lora_du", _b.ActivationType, t, rank);
        _b.MatMul(input, a, u);
        _b.WeightGradient(dOutput, u, gradBScaled, accumulate: true);
        _b.MatMulInputGrad(dOutput, bScaled, du);
        _b.WeightGradient(du, input, gradA, accumulate: true);
        _b.MatMulInputGrad(du, a, dInput, accumulate: true);
    }

    public void Dispose()
    {
        foreach (var map in _weights.Where(m => m is not null).Append(_grads ?? new()))
            foreach (var (a, bs) in map.Values)
            {
                a?.Dispose();
                bs?.Dispose();
            }
        _workspace.Dispose();
    }
}
