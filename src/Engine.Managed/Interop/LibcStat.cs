using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// glibc's <c>statx</c>, for the file type: .NET does not tell a FIFO, a device or a socket from a regular file, and
/// opening a FIFO for reading blocks until a writer comes. statx's struct layout is the same on every architecture.
/// </summary>
internal static unsafe partial class LibcStat
{
    private const string Library = "libc.so.6";
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 0x1c;
    private const int StatxSize = 0x100;

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);

    /// <summary>The <c>S_IFMT</c> bits of the file's mode (following symbolic links), or null where statx is unavailable.</summary>
    internal static int? FileType(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        byte* buffer = stackalloc byte[StatxSize];
        try
        {
            if (Statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
                return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
        return *(ushort*)(buffer + ModeOffset) & 0xF000;
    }
}
