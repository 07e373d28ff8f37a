using System.Collections.Concurrent;

namespace CoAR.Engine.Native;

/// <summary>
/// The opaque handles C callers hold: numbers that are never reused, mapped to objects. A stale, forged or
/// wrong-kind handle is an error, never a dereference of freed memory.
/// </summary>
internal static class HandleTable
{
    private static readonly ConcurrentDictionary<nint, object> Objects = new();
    private static long _next;

    public static nint Add(object value)
    {
        // Step by 16 from 16: handles look like aligned pointers and 0 stays NULL.
        nint handle = (nint)(Interlocked.Increment(ref _next) << 4);
        Objects[handle] = value;
        return handle;
    }

    public static T Get<T>(nint handle, string what) where T : class =>
        handle != 0 && Objects.TryGetValue(handle, out var value) && value is T typed
            ? typed
            : throw new NativeCallException(NativeStatus.InvalidHandle,
                handle == 0 ? $"{what} is NULL" : $"{what} 0x{handle:x} is not a live {Kind<T>()} handle (freed, or never made by this library)");

    public static bool Remove<T>(nint handle, T value) where T : class =>
        Objects.TryRemove(new KeyValuePair<nint, object>(handle, value));

    private static string Kind<T>() => typeof(T) == typeof(NativeEngine) ? "engine" : "concept";
}
