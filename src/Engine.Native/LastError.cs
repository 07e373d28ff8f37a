using System.Runtime.InteropServices;
using System.Text;

namespace CoAR.Engine.Native;

/// <summary>
/// coar_last_error(): each thread's last failure message as NUL-terminated UTF-8 in a pinned array, so the pointer
/// handed out stays put and nothing is malloc'd (a leak checker sees no per-thread allocation).
/// </summary>
internal static unsafe class LastError
{
    [ThreadStatic] private static byte[]? _message;
    private static readonly byte[] Empty = GC.AllocateArray<byte>(1, pinned: true);

    public static NativeStatus Set(NativeStatus status, string message)
    {
        int length = Encoding.UTF8.GetByteCount(message);
        if (_message is null || _message.Length < length + 1)
            _message = GC.AllocateArray<byte>(Math.Max(length + 1, 256), pinned: true);
        Encoding.UTF8.GetBytes(message, _message);
        _message[length] = 0;
        return status;
    }

    public static NativeStatus Set(Exception e)
    {
        var status = NativeStatuses.Of(e);
        string message = status == NativeStatus.Internal ? $"internal error: {Chain(e)}" : e.Message;
        return Set(status, message);
    }

    /// <summary>An internal error and its causes (a type initializer's failure is only in its inner exception).</summary>
    private static string Chain(Exception e)
    {
        var text = new StringBuilder($"{e.GetType().Name}: {e.Message}");
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            text.Append($"; caused by {inner.GetType().Name}: {inner.Message}");
        return text.ToString();
    }

    public static byte* Pointer => (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_message ?? Empty, 0);
}
