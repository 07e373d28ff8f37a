using System.Runtime.InteropServices;
using System.Text;

namespace CoAR.Engine.Native;

/// <summary>
/// Strings a handle hands to C (`const char *` valid while the handle lives): NUL-terminated UTF-8 in pinned arrays
/// owned by the handle's object, so they need no free call and die with it.
/// </summary>
internal sealed unsafe class NativeStrings(params string?[] values)
{
    private readonly byte[]?[] _bytes = values.Select(Pin).ToArray();

    /// <summary>The i-th string's pointer, or NULL for a null string.</summary>
    public byte* this[int index] => _bytes[index] is { } b ? (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(b, 0) : null;

    private static byte[]? Pin(string? value)
    {
        if (value is null) return null;
        int length = Encoding.UTF8.GetByteCount(value);
        var bytes = GC.AllocateArray<byte>(length + 1, pinned: true);
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }

    /// <summary>Reads a caller's UTF-8 string; null stays null.</summary>
    public static string? Read(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((nint)text);

    /// <summary>Reads a required string argument: NULL is an invalid-argument error naming it.</summary>
    public static string Required(byte* text, string what) =>
        Read(text) ?? throw new NativeCallException(NativeStatus.InvalidArgument, $"{what} is NULL");
}
