using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// Debian's libstb0 (stb_image, stb_image_write, stb_image_resize in one shared object). The imports name the soname
/// directly, so no assembly-wide DllImport resolver is needed (an assembly can have only one, and the CUDA interop owns
/// it); <see cref="EnsureLoaded"/> turns a missing library into an error that says which package to install.
/// </summary>
internal static class StbLibrary
{
    internal const string Name = "libstb.so.0";

    private static readonly Lazy<string?> LoadError = new(TryLoad, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Throws <see cref="DllNotFoundException"/> naming the Debian package when libstb.so.0 cannot be loaded.</summary>
    internal static void EnsureLoaded()
    {
        if (LoadError.Value is { } error)
            throw new DllNotFoundException(error);
    }

    private static string? TryLoad()
    {
        try
        {
            NativeLibrary.Load(Name);
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            return $"{Name} could not be loaded ({e.Message}). Image files need Debian's libstb0 package: "
                   + "apt-get install libstb0.";
        }
    }
}
