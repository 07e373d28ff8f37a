using System.Globalization;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// One writer per output directory: <c>OUT/.coar.lock</c>, held open with an exclusive OS lock (flock) for the whole
/// run, and <c>OUT/.coar.lock.owner</c> naming the holder (pid, command, start time; a separate file because .NET reads
/// take a shared flock, which the exclusive one refuses). A second run on the same directory is refused with the
/// owner's name. A lock file whose process is gone (killed, crashed) holds no OS lock any more, so it is stale by
/// construction and the next run takes it over. The shards of a job share its directory, each with a lock of its own
/// (<c>OUT/.coar.lock.shard-I-of-N</c>): they write disjoint images, and the same shard is never run twice at once.
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

    private string OwnerPath => Path + ".owner";

    /// <summary>The lock file's name for a shard of a job (the whole job's is <see cref="FileName"/>).</summary>
    public static string FileNameFor(Shard shard) => shard.IsWhole ? FileName : $"{FileName}.shard-{shard.Index}-of-{shard.Count}";

    /// <summary>
    /// Takes the lock of <paramref name="directory"/> (created if needed) for <paramref name="shard"/> (default: the
    /// whole job); a <see cref="UsageException"/> when another run holds it.
    /// </summary>
    public static OutputLock Acquire(string directory, string command, Shard? shard = null)
    {
        Directory.CreateDirectory(directory);
        string name = FileNameFor(shard ?? Shard.Whole);
        string path = System.IO.Path.Combine(directory, name);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new UsageException($"{directory} is in use by another run{(shard is null or { IsWhole: true } ? "" : $" of shard {shard}")} ({Owner(path + ".owner")}); wait for it to finish, or use another --out");
        }
        try
        {
            AtomicFile.WriteAllText(path + ".owner", string.Create(CultureInfo.InvariantCulture,
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
    private static string Owner(string ownerPath)
    {
        try
        {
            string text = File.ReadAllText(ownerPath).Trim();
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
        AtomicFile.TryDelete(OwnerPath);
        AtomicFile.TryDelete(Path);
        _stream.Dispose();
    }
}
