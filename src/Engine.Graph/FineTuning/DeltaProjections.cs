using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.FineTuning;

/// <summary>
/// Full fine-tuning on the device (set as <see cref="ChameleonModel.Adapter"/>): each fine-tuned projection computes
/// y = x W^T + x dW^T with dW F32 on the device, which is exactly the fine-tuned weight W + dW; the backward
/// accumulates the weight gradient (the gradient of W + dW is the gradient of dW) and adds dW's share of the input
/// gradient: grad += dy^T x; dx += dy dW.
/// </summary>
public sealed class DeltaProjections : IProjectionAdapter, IDisposable
{
    private readonly IBackend _b;
    private readonly WeightDeltas _deltas;
    private readonly Dictionary<(int Layer, Projection P), Tensor> _values = new();
    private readonly Dictionary<(int Layer, Projection P), Tensor>? _grads;

    /// <param name="trainable">Keep gradients for <see cref="Backward"/>.</param>
    public DeltaProjections(IBackend backend, WeightDeltas deltas, bool trainable = false)
    {
        _b = backend;
        _deltas = deltas;
        try
        {
            foreach (var d in deltas.All)
                _values[(d.Layer, d.Projection)] = backend.Allocate(DType.F32, [d.Out, d.In], $"delta.{d.Layer}.{d.Projection.ModulePath()}");
            if (trainable)
            {
                _grads = new();
                foreach (var d in deltas.All)
                    _grads[(d.Layer, d.Projection)] = backend.Allocate(DType.F32, [d.Out, d.In], $"delta_grad.{d.Layer}.{d.Projection.ModulePath()}");
                ZeroGradients();
            }
            Upload();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public WeightDeltas Deltas => _deltas;

    /// <summary>Copies the host values (after an optimizer step) to the device.</summary>
    public void Upload()
    {
        foreach (var d in _deltas.All) _b.Upload<float>(d.Values, _values[(d.Layer, d.Projection)]);
    }

    public void ZeroGradients()
    {
        foreach (var g in Gradients.Values) _b.Zero(g);
    }

    /// <summary>The accumulated gradients, laid out as <see cref="WeightDeltas.CopyTo"/> lays out the values.</summary>
    public void DownloadGradients(Span<float> destination)
    {
        int at = 0;
        foreach (var d in _deltas.All)
        {
            _b.Download<float>(Gradients[(d.Layer, d.Projection)], destination.Slice(at, d.Values.Length));
            at += d.Values.Length;
        }
    }

    private Dictionary<(int Layer, Projection P), Tensor> Gradients =>
        _grads ?? throw new InvalidOperationException("these weight changes were not set up for training");

    public bool Adapts(int layer, Projection p) => _values.ContainsKey((layer, p));

    public void Forward(int layer, Projection p, Tensor input, Tensor output) =>
        _b.MatMul(input, _values[(layer, p)], output, accumulate: true);

    public void Backward(int layer, Projection p, Tensor input, Tensor dOutput, Tensor dInput)
    {
        _b.WeightGradient(dOutput, input, Gradients[(layer, p)], accumulate: true);
        _b.MatMulInputGrad(dOutput, _values[(layer, p)], dInput, accumulate: true);
    }

    public void Dispose()
    {
        foreach (var t in _values.Values.Concat(_grads?.Values.AsEnumerable() ?? [])) t.Dispose();
        _values.Clear();
        _grads?.Clear();
    }
}
