using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Torch;

/// <summary>A named tensor read from (or destined for) a checkpoint file: contiguous row-major little-endian bytes.</summary>
public sealed record CheckpointTensor(string Name, DType DType, long[] Shape, byte[] Data)
{
    public long ElementCount => Shape.Aggregate(1L, (n, d) => checked(n * d));
}
