using System.Reflection;
using System.Runtime.InteropServices;

namespace CoAR.Engine.Native;

/// <summary>
/// Finds the native libraries published beside libcoar.so (libSkiaSharp.so, the image codecs). The runtime's default
/// search looks beside the host executable (python3, the C program) and on the loader's path, not beside the library
/// that contains the runtime, so without this the first image a host decodes would fail to load its codec.
/// </summary>
internal static unsafe class BundledLibraries
{
    private const string Skia = "libSkiaSharp";

    /// <summary>Registers the resolver; called once, before any export's body runs (NativeCall's type initializer).</summary>
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(SkiaSharp.SKBitmap).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Skia || Directory() is not { } directory)
            return 0;
        return NativeLibrary.TryLoad(Path.Combine(directory, Skia + ".so"), out var handle) ? handle : 0;
    }

    /// <summary>The directory of libcoar.so itself, from the dynamic loader (dladdr on one of its own functions).</summary>
    private static string? Directory()
    {
        delegate* unmanaged<void> self = &Anchor;
        if (dladdr(self, out var info) == 0 || info.FileName == 0)
            return null;
        return Path.GetDirectoryName(Marshal.PtrToStringUTF8(info.FileName));
    }

    [UnmanagedCallersOnly]
    private static void Anchor() { }

    [StructLayout(LayoutKind.Sequential)]
    private struct DlInfo
    {
        public nint FileName, BaseAddress, SymbolName, SymbolAddress;
    }

    [DllImport("libc", EntryPoint = "dladdr")]
    private static extern int dladdr(void* address, out DlInfo info);
}
