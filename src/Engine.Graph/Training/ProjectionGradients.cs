using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The gradients of chosen projections' weights themselves (full fine-tuning): dW [out, in] F32 for each adapted
/// (layer, projection), accumulated by <see cref="IBackend.WeightGradient"/> over every backward pass until
/// <see cref="Zero"/>. Set as the model's <see cref="ChameleonModel.Adapter"/>; it adds nothing to the forward.
/// </summary>
public sealed class ProjectionGradients : IProjectionAdapter, IDisposable
{
    private readonly IBackend _backend;
    private readonly Dictionary<(int Layer, Projection P), Tensor> _grads = new();

    public ProjectionGradients(ChameleonModel model, IEnumerable<int> layers, IEnumerable<Projection> projections)
    {
        _backend = model.Backend;
        try
        {
            foreach (int i in layers)
                foreach (var p in projections.Distinct())
                {
                    var w = model.Weights.Layers[i].Of(p);
                    _grads[(i, p)] = _backend.Allocate(DType.F32, [w.Dim(0), w.Dim(1)], $"grad.{i}.{p.ModulePath()}");
                }
        }
        catch
        {
            Dispose();
            throw;
        }
        Zero();
    }

    /// <summary>dW of projection <paramref name="p"/> of layer <paramref name="layer"/>, [out, in] F32.</summary>
    public Tensor this[int layer, Projection p] => _grads[(layer, p)];

    public IEnumerable<(int Layer, Projection Projection)> Adapted => _grads.Keys;

    public void Zero()
    {
        foreach (var g in _grads.Values) _backend.Zero(g);
    }

    public bool Adapts(int layer, Projection p) => _grads.ContainsKey((layer, p));

    // The weights are the model's own: the forward is the model's.
    public void Forward(int layer, Projection p, Tensor input, Tensor output)
    {
    }

    public void Backward(int layer, Projection p, Tensor input, Tensor dOutput, Tensor dInput) =>
        _backend.WeightGradient(dOutput, input, _grads[(layer, p)], accumulate: true);

    public void Dispose()
    {
        foreach (var g in _grads.Values) g.Dispose();
        _grads.Clear();
    }
}
