using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>
/// Sees every named intermediate of a forward pass (`tok_embd`, `blk.{i}.attn_norm`, ..., `logits`) right after it is
/// computed, so activations can be dumped and compared by name. The tensor is only valid during the call.
/// </summary>
public interface IActivationObserver
{
    void Observe(string name, Tensor value);
}
