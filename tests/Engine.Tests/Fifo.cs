using System.Diagnostics;

namespace CoAR.Engine.Tests;

/// <summary>Named pipes for tests: reading one blocks until a writer comes, which a reader must refuse, not wait for.</summary>
internal static class Fifo
{
    public static string Make(string name)
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("coar-fifo-").FullName, name);
        using var mkfifo = Process.Start("mkfifo", [path])!;
        mkfifo.WaitForExit();
        if (mkfifo.ExitCode != 0)
            throw new InvalidOperationException($"mkfifo {path} failed");
        return path;
    }
}
