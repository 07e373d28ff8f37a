using System.Reflection;
using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// The one DllImport resolver of this assembly (.NET allows one per assembly): it maps each binding's library name to
/// a <see cref="NativeLibraryProbe"/> that searches the places the library is really installed, and keeps what it tried.
/// Names without a probe fall back to the runtime's default search.
/// </summary>
internal static class NativeLibraries
{
    public static readonly NativeLibraryProbe Cuda = new(
        "libcuda", "the NVIDIA driver library", "COAR_LIBCUDA", "cuInit", () => NativeLibraryCandidates.ForLibcuda(Environment.GetEnvironmentVariable));

    public static readonly NativeLibraryProbe Nvrtc = new(
        "libnvrtc", "the CUDA run-time compiler", "COAR_NVRTC", "nvrtcVersion", () => NativeLibraryCandidates.ForNvrtc(Environment.GetEnvironmentVariable));

    private static readonly Lock Gate = new();
    private static bool registered;

    public static void EnsureRegistered()
    {
        lock (Gate)
        {
            if (registered)
                return;
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
            registered = true;
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        var probe = name switch
        {
            CuNative.Library => Cuda,
            NvrtcNative.Library => Nvrtc,
            _ => null,
        };
        return probe is not null && probe.TryLoad(out var handle) ? handle : 0;
    }
}
