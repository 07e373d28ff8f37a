using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// stb_image_write's callback writers: <c>func(context, data, size)</c> is called one or more times with the encoded bytes.
/// The return value is 0 on failure.
/// </summary>
internal static unsafe partial class StbImageWrite
{
    [LibraryImport(StbLibrary.Name, EntryPoint = "stbi_write_png_to_func")]
    internal static partial int PngToFunc(delegate* unmanaged<void*, void*, int, void> func, void* context, int width,
        int height, int components, void* data, int strideInBytes);

    [LibraryImport(StbLibrary.Name, EntryPoint = "stbi_write_bmp_to_func")]
    internal static partial int BmpToFunc(delegate* unmanaged<void*, void*, int, void> func, void* context, int width,
        int height, int components, void* data);

    [LibraryImport(StbLibrary.Name, EntryPoint = "stbi_write_jpg_to_func")]
    internal static partial int JpgToFunc(delegate* unmanaged<void*, void*, int, void> func, void* context, int width,
        int height, int components, void* data, int quality);
}
