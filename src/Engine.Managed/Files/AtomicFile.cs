namespace CoAR.Engine.Managed.Files;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one: write to a temporary file in
/// the same directory (so the rename stays on one volume), flush it to disk, then rename over the target. On failure
/// the temp file is removed and the target is untouched. Writers of several files (sharded checkpoints) use the two
/// halves, <see cref="WriteTemporary(string, Action{Stream})"/> and <see cref="Commit"/>, to rename only once all are written.
/// A write that fails for the file system's sake (disk full, no permission) throws <see cref="OutputWriteException"/>
/// naming the target.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        Commit(WriteTemporary(full, write), full);
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>A fresh hidden temp path in the same directory as <paramref name="fullPath"/>.</summary>
    public static string TempPathFor(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    /// <summary>Writes the content to a new temp file beside <paramref name="fullPath"/> and returns its path.</summary>
    public static string WriteTemporary(string fullPath, Action<Stream> write)
    {
        string temp = TempPathFor(fullPath);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
            using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            write(file);
            file.Flush(flushToDisk: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException and not OutputWriteException or UnauthorizedAccessException)
                throw new OutputWriteException(fullPath, e);
            throw;
        }
        return temp;
    }

    public static string WriteTemporary(string fullPath, ReadOnlySpan<byte> content)
    {
        var copy = content.ToArray();
        return WriteTemporary(fullPath, s => s.Write(copy));
    }

    /// <summary>Renames a temp file from <see cref="WriteTemporary(string, Action{Stream})"/> over the target.</summary>
    public static void Commit(string temp, string fullPath)
    {
        try
        {
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new OutputWriteException(fullPath, e);
            throw;
        }
    }

    /// <summary>
    /// Removes the temp files that writers of <paramref name="fullPath"/> left when they were killed mid-write: those
    /// whose process is gone. A live writer's temp file is left alone.
    /// </summary>
    public static void RemoveStaleTemporaries(string fullPath)
    {
        string? dir = Path.GetDirectoryName(fullPath);
        if (dir is null || !Directory.Exists(dir))
            return;
        string prefix = $".{Path.GetFileName(fullPath)}.";
        foreach (var temp in Directory.EnumerateFiles(dir, prefix + "*.tmp"))
        {
            string[] parts = Path.GetFileName(temp)[prefix.Length..].Split('.');
            if (parts.Length == 3 && int.TryParse(parts[0], out int pid) && !ProcessIsAlive(pid))
                TryDelete(temp);
        }
    }

    /// <summary>True while a process with this id runs (on Linux: /proc/PID exists).</summary>
    public static bool ProcessIsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
            return true;
        if (OperatingSystem.IsLinux())
            return Directory.Exists($"/proc/{pid}");
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Cleanup during failure handling: a second error here must not hide the first.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
