using System.Globalization;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// One writer per output directory: <c>OUT/.coar.lock</c>, held open with an exclusive OS lock (flock) for the whole
/// run, and <c>OUT/.coar.lock.owner</c> naming the holder (pid, command, start time; a separate file because .NET reads
/// take a shared flock, which the exclusive one refuses). A second run on the same directory is refused with the
/// owner's name. A lock file whose process is gone (killed, crashed) holds no OS lock any more, so it is stale by
/// construction and the next run takes it over.
/// </summary>
public sealed class OutputLock : IDisposable
{
    public const string FileName = ".coar.lock";
    public const string OwnerFileName = ".coar.lock.owner";

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
            throw new UsageException($"{directory} is in use by another run ({Owner(directory)}); wait for it to finish, or use another --out");
        }
        try
        {
            AtomicFile.WriteAllText(System.IO.Path.Combine(directory, OwnerFileName), string.Create(CultureInfo.InvariantCulture,
                $"pid {Environment.ProcessId}, {command}, started {DateTime.Now:yyyy-MM-dd HH:mm:ss}\n"));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        return new OutputLock(stream, path);
    }

    /// <summary>Who holds the lock, as its owner file says.</summary>
    private static string Owner(string directory)
    {
        try
        {
            string text = File.ReadAllText(System.IO.Path.Combine(directory, OwnerFileName)).Trim();
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
        AtomicFile.TryDelete(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, OwnerFileName));
        AtomicFile.TryDelete(Path);
        _stream.Dispose();
    }
}
