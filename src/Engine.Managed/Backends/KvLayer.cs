using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// One layer's KV cache: Keys and Values [rows, kvHeads, capacity, headDim] and the identity tag of every cached
/// position, KeyTags [rows, capacity] I32 (shared by all layers of a cache).
/// </summary>
public sealed record KvLayer(Tensor Keys, Tensor Values, Tensor KeyTags)
{
    public int Rows => Keys.Dim(0);
    public int KvHeads => Keys.Dim(1);
    public int Capacity => Keys.Dim(2);
    public int HeadDim => Keys.Dim(3);
}
