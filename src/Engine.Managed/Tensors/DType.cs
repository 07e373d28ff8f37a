namespace CoAR.Engine.Managed.Tensors;

/// <summary>Element types the engine stores. Names follow safetensors' dtype strings.</summary>
public enum DType
{
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType type) => type switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 or DType.I16 => 2,
        DType.I8 or DType.U8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown dtype"),
    };

    /// <summary>The dtype string safetensors uses in its header ("BF16", "F32", ...).</summary>
    public static string SafetensorsName(this DType type) => type switch
    {
        DType.Bool => "BOOL",
        _ => type.ToString(),
    };

    /// <summary>Every dtype string the safetensors format defines, including the ones this engine cannot hold.</summary>
    public static readonly IReadOnlyList<string> AllSafetensorsNames =
        ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64",
         "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"];

    /// <summary>Parses a safetensors dtype string; false for names the format defines but the engine does not support.</summary>
    public static bool TryParseSafetensors(string name, out DType type)
    {
        foreach (var t in Enum.GetValues<DType>())
        {
            if (t.SafetensorsName() == name)
            {
                type = t;
                return true;
            }
        }
        type = default;
        return false;
    }

    public static bool IsFloat(this DType type) => type is DType.F64 or DType.F32 or DType.F16 or DType.BF16;
}
