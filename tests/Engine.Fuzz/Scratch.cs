namespace CoAR.Engine.Fuzz;

/// <summary>Scratch files for readers that take a path: one directory per process, in memory (/dev/shm) where there is one.</summary>
internal static class Scratch
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string parent = System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string dir = Path.Combine(parent, $"coar-fuzz-{Environment.ProcessId}");
        System.IO.Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(dir, recursive: true); } catch (IOException) { }
        };
        return dir;
    });

    public static string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(Root.Value, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>An empty directory (emptied on every call).</summary>
    public static string Directory(string name)
    {
        string dir = Path.Combine(Root.Value, name);
        if (System.IO.Directory.Exists(dir))
            System.IO.Directory.Delete(dir, recursive: true);
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    }
}
