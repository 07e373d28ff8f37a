namespace CoAR.Engine.Managed.Files;

/// <summary>
/// An output file could not be written: the disk is full, the directory is read-only, a path is in the way. The file
/// that was there before is untouched.
/// </summary>
public sealed class OutputWriteException(string path, Exception inner)
    : IOException($"could not write {path}: {inner.Message}{Hint(inner)}; the previous file (if any) is untouched", inner)
{
    public string TargetPath { get; } = path;

    private static string Hint(Exception inner) =>
        inner.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase) ? " (the file system is full: free some space)" : "";
}
