using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// NVRTC, the run-time CUDA C++ compiler (libnvrtc.so of any major version; the resolver picks the file). Programs are
/// nint handles; strings are NUL-terminated UTF-8. nvrtcGetSupportedArchs (11.2+) is looked up separately, since an
/// older library lacks it.
/// </summary>
internal static unsafe partial class NvrtcNative
{
    public const string Library = "libnvrtc.so";

    static NvrtcNative() => NativeLibraries.EnsureRegistered();

    [LibraryImport(Library)] public static partial NvrtcResult nvrtcVersion(int* major, int* minor);
    [LibraryImport(Library)] public static partial byte* nvrtcGetErrorString(NvrtcResult result);

    [LibraryImport(Library)]
    public static partial NvrtcResult nvrtcCreateProgram(nint* program, byte* source, byte* name, int headerCount, byte** headers,
        byte** includeNames);
    [LibraryImport(Library)] public static partial NvrtcResult nvrtcDestroyProgram(nint* program);
    [LibraryImport(Library)] public static partial NvrtcResult nvrtcCompileProgram(nint program, int optionCount, byte** options);

    [LibraryImport(Library)] public static partial NvrtcResult nvrtcGetProgramLogSize(nint program, nuint* size);
    [LibraryImport(Library)] public static partial NvrtcResult nvrtcGetProgramLog(nint program, byte* log);
    [LibraryImport(Library)] public static partial NvrtcResult nvrtcGetPTXSize(nint program, nuint* size);
    [LibraryImport(Library)] public static partial NvrtcResult nvrtcGetPTX(nint program, byte* ptx);
    [LibraryImport(Library)] public static partial NvrtcResult nvrtcGetCUBINSize(nint program, nuint* size);
    [LibraryImport(Library)] public static partial NvrtcResult nvrtcGetCUBIN(nint program, byte* cubin);
}
