using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Torch;

/// <summary>The legacy typed-storage class names torch.save writes in persistent ids, and their element types.</summary>
internal static class TorchStorageTypes
{
    private static readonly Dictionary<string, DType> ByName = new()
    {
        ["FloatStorage"] = DType.F32,
        ["DoubleStorage"] = DType.F64,
        ["HalfStorage"] = DType.F16,
        ["BFloat16Storage"] = DType.BF16,
        ["LongStorage"] = DType.I64,
        ["IntStorage"] = DType.I32,
        ["ShortStorage"] = DType.I16,
        ["CharStorage"] = DType.I8,
        ["ByteStorage"] = DType.U8,
        ["BoolStorage"] = DType.Bool,
    };

    internal static bool TryGet(string name, out DType type) => ByName.TryGetValue(name, out type);

    internal static bool LooksLikeStorage(string name) => name.EndsWith("Storage", StringComparison.Ordinal);
}
