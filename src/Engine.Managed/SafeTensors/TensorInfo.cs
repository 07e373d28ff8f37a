using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>Where one tensor lives: its dtype and shape, and its bytes' absolute offset and length in <paramref name="FilePath"/>.</summary>
public sealed record TensorInfo(string Name, DType DType, long[] Shape, long DataOffset, long ByteLength, string FilePath)
{
    public long ElementCount { get; } = TensorSize.ElementCount(Shape);

    public override string ToString() => $"{Name} {DType.SafetensorsName()} [{string.Join(", ", Shape)}]";
}
