using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Where each kernel parameter sits in an argument struct: one parameter per field, in declaration order, laid out
/// as C lays out the kernel's parameter list (natural alignment). Computed once per struct type, so a launch only
/// adds offsets to a pointer. Fields may be integers, floats, pointers, enums, or structs of those (a bf16 value, a
/// small fixed array); bool and char are refused because their C sizes differ from .NET's.
/// </summary>
internal static class KernelArgumentLayout<[DynamicallyAccessedMembers(ArgumentFields)] TArgs> where TArgs : unmanaged
{
    /// <summary>What the layout reads by reflection, kept by the trimmer and NativeAOT (libcoar) for every TArgs.</summary>
    public const DynamicallyAccessedMemberTypes ArgumentFields = DynamicallyAccessedMemberTypes.PublicFields | DynamicallyAccessedMemberTypes.NonPublicFields;

    /// <summary>Byte offset of each parameter within TArgs.</summary>
    public static readonly int[] Offsets = Compute();

    private static int[] Compute()
    {
        var type = typeof(TArgs);
        if (IsScalar(type))
            return [0];
        var offsets = new List<int>();
        var (size, _) = Layout(type, offsets);
        int actual = Unsafe.SizeOf<TArgs>();
        if (size != actual)
            throw new NotSupportedException(
                $"kernel argument struct {type.Name}: its fields lay out to {size} bytes but .NET makes it {actual}; " +
                "use a plain sequential struct of scalars and pointers");
        return [.. offsets];
    }

    /// <summary>Size and alignment of a struct laid out sequentially; adds top-level field offsets when asked.</summary>
    private static (int Size, int Alignment) Layout([DynamicallyAccessedMembers(ArgumentFields)] Type type, List<int>? offsets)
    {
        if (type.IsExplicitLayout || type.IsAutoLayout || type.StructLayoutAttribute is { Pack: not 0 })
            throw new NotSupportedException(
                $"kernel argument struct {type.Name} must have the default sequential layout (no Pack, no explicit offsets)");
        // Declaration order, as GetFields gives it on CoreCLR and NativeAOT (which has no metadata tokens to sort by).
        var fields = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        int offset = 0, alignment = 1;
        foreach (var field in fields)
        {
            var (size, align) = SizeAndAlignment(field.FieldType, $"{type.Name}.{field.Name}");
            offset = (offset + align - 1) / align * align;
            offsets?.Add(offset);
            offset += size;
            alignment = Math.Max(alignment, align);
        }
        offset = Math.Max(1, (offset + alignment - 1) / alignment * alignment);
        // A fixed-size buffer is a struct with one element field and an explicit Size.
        if (type.StructLayoutAttribute is { Size: > 0 } declared)
            offset = Math.Max(offset, (declared.Size + alignment - 1) / alignment * alignment);
        return (offset, alignment);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2067", Justification =
        "A nested struct's own fields may not be kept for reflection by NativeAOT; its computed size then differs from the "
        + "runtime's and the struct is refused with an error, never laid out wrong. No kernel argument struct nests one today.")]
    private static (int Size, int Alignment) SizeAndAlignment(Type type, string field)
    {
        if (type.IsEnum)
            type = Enum.GetUnderlyingType(type);
        if (type == typeof(bool) || type == typeof(char))
            throw new NotSupportedException($"kernel argument {field} is a {type.Name}: use byte or ushort, whose size C agrees on");
        if (IsScalar(type))
        {
            int size = type.IsPointer || type == typeof(nint) || type == typeof(nuint) ? IntPtr.Size : Type.GetTypeCode(type) switch
            {
                TypeCode.Byte or TypeCode.SByte => 1,
                TypeCode.Int16 or TypeCode.UInt16 => 2,
                TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Single => 4,
                TypeCode.Int64 or TypeCode.UInt64 or TypeCode.Double => 8,
                _ => throw new NotSupportedException($"kernel argument {field} of type {type.Name} has no C equivalent"),
            };
            return (size, size);
        }
        if (type.IsValueType)
        {
            var nested = Layout(type, null);
            if (nested.Size != RuntimeHelpers.SizeOf(type.TypeHandle))
                throw new NotSupportedException(
                    $"kernel argument {field}: struct {type.Name} lays out to {nested.Size} bytes but .NET makes it {RuntimeHelpers.SizeOf(type.TypeHandle)}");
            return nested;
        }
        throw new NotSupportedException($"kernel argument {field} of type {type.Name} cannot be passed to a kernel");
    }

    private static bool IsScalar(Type type) => type.IsPrimitive || type.IsPointer || type.IsEnum;
}
