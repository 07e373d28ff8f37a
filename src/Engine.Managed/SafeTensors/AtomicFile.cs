namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>Write-to-temp-then-rename, so a failed write never leaves a half-written file at the final path.</summary>
internal static class AtomicFile
{
    /// <summary>A fresh hidden temp path in the same directory as <paramref name="fullPath"/> (rename stays on one volume).</summary>
    public static string TempPathFor(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");

    public static string WriteTemporary(string fullPath, ReadOnlySpan<byte> content)
    {
        string temp = TempPathFor(fullPath);
        try
        {
            using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            file.Write(content);
            file.Flush(flushToDisk: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        return temp;
    }

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
