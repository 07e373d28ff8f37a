using System.Diagnostics;
using NUnit.Framework;

namespace CoAR.Engine.Tests;

/// <summary>
/// A tmpfs of a few MiB (mount needs root; CI runs as root), to test writes on a full disk. Tests using it are
/// skipped, with the reason, where the mount is not permitted.
/// </summary>
internal sealed class SmallFileSystem : IDisposable
{
    private SmallFileSystem(string path) => Path = path;

    public string Path { get; }

    public static SmallFileSystem Mount(string sizeMiB)
    {
        string path = Directory.CreateTempSubdirectory("coar-tmpfs-").FullName;
        var (code, error) = RunTool("mount", "-t", "tmpfs", "-o", $"size={sizeMiB}m", "tmpfs", path);
        if (code != 0)
        {
            Directory.Delete(path);
            Assert.Ignore($"cannot mount a small tmpfs to fill up (mount: {error.Trim()}); needs root");
        }
        return new SmallFileSystem(path);
    }

    /// <summary>Fills the file system until at most <paramref name="leaveBytes"/> remain free.</summary>
    public void FillLeaving(long leaveBytes)
    {
        var info = new DriveInfo(Path);
        long fill = info.AvailableFreeSpace - leaveBytes;
        if (fill <= 0) return;
        using var file = new FileStream(System.IO.Path.Combine(Path, "filler"), FileMode.Create);
        var block = new byte[1 << 16];
        for (long written = 0; written < fill; written += block.Length)
            file.Write(block, 0, (int)Math.Min(block.Length, fill - written));
    }

    public void Free() => File.Delete(System.IO.Path.Combine(Path, "filler"));

    public void Dispose()
    {
        RunTool("umount", "-l", Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Error) RunTool(string tool, params string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            string error = p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, error);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
