using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>stb_image: decoding from memory. Pixels come back malloc'ed by stb and must go to <see cref="ImageFree"/>.</summary>
internal static unsafe partial class StbImage
{
    [LibraryImport(StbLibrary.Name, EntryPoint = "stbi_info_from_memory")]
    internal static partial int InfoFromMemory(byte* buffer, int length, int* width, int* height, int* channels);

    [LibraryImport(StbLibrary.Name, EntryPoint = "stbi_load_from_memory")]
    internal static partial byte* LoadFromMemory(byte* buffer, int length, int* width, int* height, int* channelsInFile,
        int desiredChannels);

    [LibraryImport(StbLibrary.Name, EntryPoint = "stbi_image_free")]
    internal static partial void ImageFree(void* pixels);

    [LibraryImport(StbLibrary.Name, EntryPoint = "stbi_failure_reason")]
    private static partial byte* FailureReasonUtf8();

    /// <summary>stb's reason for the last failure on this thread (stb keeps it thread-local).</summary>
    internal static string FailureReason()
    {
        byte* reason = FailureReasonUtf8();
        return reason == null ? "no reason given" : Marshal.PtrToStringUTF8((nint)reason) ?? "no reason given";
    }
}
