using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>Bits per element of every dtype the safetensors format defines (sub-byte types included).</summary>
internal static class FormatDTypes
{
    private static readonly Dictionary<string, int> Bits = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 8, ["U8"] = 8, ["I8"] = 8, ["F8_E4M3"] = 8, ["F8_E5M2"] = 8, ["F8_E8M0"] = 8,
        ["F4"] = 4, ["F6_E2M3"] = 6, ["F6_E3M2"] = 6,
        ["I16"] = 16, ["U16"] = 16, ["F16"] = 16, ["BF16"] = 16,
        ["I32"] = 32, ["U32"] = 32, ["F32"] = 32,
        ["I64"] = 64, ["U64"] = 64, ["F64"] = 64, ["C64"] = 64,
    };

    /// <summary>False for strings the format does not define.</summary>
    public static bool TryGetBits(string name, out int bits) => Bits.TryGetValue(name, out bits);

    public static string KnownNames => string.Join(", ", DTypeInfo.AllSafetensorsNames);
}
