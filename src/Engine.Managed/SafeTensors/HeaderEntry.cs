using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>
/// One tensor as its file's header declares it, including dtypes the engine cannot hold (<see cref="DType"/> is null then).
/// <see cref="DataOffset"/> is absolute in the file.
/// </summary>
public sealed record HeaderEntry(string Name, string DTypeName, DType? DType, long[] Shape, long DataOffset, long ByteLength);
