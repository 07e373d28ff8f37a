using System.Globalization;
using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// The file a loaded library came from, found by locating one of its exports in /proc/self/maps: a soname such as
/// libnvrtc.so.11.2 says nothing about which of several installed copies the system loader picked.
/// </summary>
internal static class LoadedFile
{
    public static string? Of(nint library, string exportedSymbol)
    {
        if (!NativeLibrary.TryGetExport(library, exportedSymbol, out var address) || !File.Exists("/proc/self/maps"))
            return null;
        ulong target = (ulong)address;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                // "start-end perms offset dev inode path"
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 6)
                    continue;
                var range = fields[0].Split('-');
                if (ulong.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start) &&
                    ulong.TryParse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end) &&
                    target >= start && target < end)
                    return fields[5].Trim();
            }
        }
        catch (IOException)
        {
            return null;
        }
        return null;
    }
}
