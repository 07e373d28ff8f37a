using System.Runtime.InteropServices;
using System.Text;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// NUL-terminated UTF-8 copies of strings in native memory, for native calls that take `const char*` or an array of
/// them (runtime marshalling is disabled, so strings cross as byte pointers). Freed on Dispose.
/// </summary>
internal sealed unsafe class NativeUtf8Strings : IDisposable
{
    private byte** pointers;
    private readonly int count;

    public NativeUtf8Strings(params ReadOnlySpan<string> strings)
    {
        count = strings.Length;
        pointers = (byte**)NativeMemory.AllocZeroed((nuint)Math.Max(count, 1), (nuint)sizeof(byte*));
        for (int i = 0; i < count; i++)
        {
            int bytes = Encoding.UTF8.GetByteCount(strings[i]);
            var text = (byte*)NativeMemory.Alloc((nuint)bytes + 1);
            Encoding.UTF8.GetBytes(strings[i], new Span<byte>(text, bytes));
            text[bytes] = 0;
            pointers[i] = text;
        }
    }

    public int Count => count;

    /// <summary>The array of string pointers (`const char**`), valid until Dispose.</summary>
    public byte** Pointers => pointers != null ? pointers : throw new ObjectDisposedException(nameof(NativeUtf8Strings));

    public byte* this[int index] => (uint)index < (uint)count ? Pointers[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Reads a NUL-terminated UTF-8 string owned by native code; null stays null.</summary>
    public static string? Read(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((nint)text);

    public void Dispose()
    {
        if (pointers == null)
            return;
        for (int i = 0; i < count; i++)
            NativeMemory.Free(pointers[i]);
        NativeMemory.Free(pointers);
        pointers = null;
    }
}
