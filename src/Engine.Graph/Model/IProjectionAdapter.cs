using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>
/// What trains or changes a layer's linear projections y = x W^T: LoRA adapters, or the gradients of W itself. The
/// model calls <see cref="Forward"/> right after each adapted projection, and <see cref="Backward"/> in its
/// backward pass once the projection's output gradient and its own input gradient are in place.
/// </summary>
public interface IProjectionAdapter
{
    /// <summary>Whether the adapter touches projection <paramref name="p"/> of layer <paramref name="layer"/>.</summary>
    bool Adapts(int layer, Projection p);

    /// <summary>output += the adapter's term for input. input [T, in], output [T, out], activations.</summary>
    void Forward(int layer, Projection p, Tensor input, Tensor output);

    /// <summary>
    /// Accumulates the adapter's own gradients from the projection's input [T, in] and output gradient dOutput
    /// [T, out]; adds the gradient its term sends to the input into dInput [T, in].
    /// </summary>
    void Backward(int layer, Projection p, Tensor input, Tensor dOutput, Tensor dInput);
}
