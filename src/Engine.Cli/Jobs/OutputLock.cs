using System.Globalization;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// One writer per output directory: <c>OUT/.coar.lock</c>, held open with an exclusive OS lock for the whole run and
/// naming its owner (pid, command, start time). A second run on the same directory is refused with the owner's name.
/// A lock file whose process is gone (killed, crashed) holds no OS lock any more, so it is stale by construction and
/// the next run simply takes it over.
/// </summary>
public sealed class OutputLock : IDisposable
{
    public const string FileName = ".coar.lock";

    private readonly FileStream _stream;

    private OutputLock(FileStream stream, string path)
    {
        _stream = stream;
        Path = path;
    }

    public string Path { get; }

    /// <summary>Takes the lock of <paramref name="directory"/> (created if needed); a <see cref="UsageException"/> when another run holds it.</summary>
    public static OutputLock Acquire(string directory, string command)
    {
        Directory.CreateDirectory(directory);
        string path = System.IO.Path.Combine(directory, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new UsageException($"{directory} is in use by another run ({Owner(path)}); wait for it to finish, or use another --out");
        }
        stream.SetLength(0);
        using (var writer = new StreamWriter(stream, leaveOpen: true))
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"pid {Environment.ProcessId}, {command}, started {DateTime.Now:yyyy-MM-dd HH:mm:ss}\n"));
        stream.Flush(flushToDisk: true);
        return new OutputLock(stream, path);
    }

    /// <summary>What the lock file says about its owner (read without taking a lock).</summary>
    private static string Owner(string path)
    {
        try
        {
            using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            string text = reader.ReadLine() ?? "";
            return text.Length > 0 ? text : "owner unknown";
        }
        catch (IOException)
        {
            return "owner unknown";
        }
    }

    public void Dispose()
    {
        // Deleting first, while still holding the lock, so no other run can take a lock on the old file in between.
        try
        {
            File.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        _stream.Dispose();
    }
}
