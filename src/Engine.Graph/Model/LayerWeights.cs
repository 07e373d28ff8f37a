using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>One decoder layer's weights on a backend. The qk-norm tensors are null when the config has no qk norm.</summary>
public sealed record LayerWeights(
    Tensor AttnNorm,
    Tensor Q,
    Tensor K,
    Tensor V,
    Tensor O,
    Tensor? QNormWeight,
    Tensor? QNormBias,
    Tensor? KNormWeight,
    Tensor? KNormBias,
    Tensor FfnNorm,
    Tensor Gate,
    Tensor Up,
    Tensor Down);
