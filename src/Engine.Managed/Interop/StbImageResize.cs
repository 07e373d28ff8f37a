using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>stb_image_resize (v1, the one libstb0 ships). Returns 1 on success, 0 on failure.</summary>
internal static unsafe partial class StbImageResize
{
    internal const int EdgeClamp = 1;
    internal const int FilterBox = 1;
    internal const int FilterCatmullRom = 4;
    internal const int ColorspaceLinear = 0;
    internal const int AlphaChannelNone = -1;

    [LibraryImport(StbLibrary.Name, EntryPoint = "stbir_resize_uint8_generic")]
    internal static partial int ResizeUint8Generic(byte* input, int inputWidth, int inputHeight, int inputStrideInBytes,
        byte* output, int outputWidth, int outputHeight, int outputStrideInBytes, int channels, int alphaChannel,
        int flags, int edgeMode, int filter, int colorspace, void* allocContext);
}
