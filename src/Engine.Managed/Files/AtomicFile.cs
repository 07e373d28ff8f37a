namespace CoAR.Engine.Managed.Files;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new one: write to a temporary file in
/// the same directory (so the rename stays on one volume), flush it to disk, then rename over the target. On failure
/// the temp file is removed and the target is untouched. Writers of several files (sharded checkpoints) use the two
/// halves, <see cref="WriteTemporary(string, Action{Stream})"/> and <see cref="Commit"/>, to rename only once all are written.
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
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        string temp = TempPathFor(fullPath);
        try
        {
            using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            write(file);
            file.Flush(flushToDisk: true);
        }
        catch
        {
            TryDelete(temp);
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
        catch
        {
            TryDelete(temp);
            throw;
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
