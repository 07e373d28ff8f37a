using System.Text.Json;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// What a run of one shard of a job reports about itself in the job's directory
/// (<c>OUT/.coar-shards/shard-I-of-N.json</c>, rewritten atomically as images are written): where it runs, how far it
/// is, and how it ended. `coar job status` reads them.
/// </summary>
public sealed record ShardProgress(int Shard, int Shards, string Host, int Pid, string Device, DateTimeOffset Started,
    DateTimeOffset Updated, int Images, int Done, int Written, string State, string? Error = null)
{
    public const string DirectoryName = ".coar-shards";
    public const string Running = "running", Finished = "finished", Failed = "failed", Cancelled = "cancelled";

    private const long MaxFileBytes = 64 * 1024;

    public static string PathFor(string outputDir, Shard shard) =>
        Path.Combine(outputDir, DirectoryName, $"shard-{shard.Index}-of-{shard.Count}.json");

    public void Save(string outputDir) =>
        AtomicFile.WriteAllText(PathFor(outputDir, new Shard(Shard, Shards)), JsonSerializer.Serialize(this, CliJson.Options));

    /// <summary>Every shard's report in a job's directory, or what is wrong with the file.</summary>
    public static List<(string File, ShardProgress? Progress, string? Problem)> ReadAll(string outputDir)
    {
        string dir = Path.Combine(outputDir, DirectoryName);
        var found = new List<(string, ShardProgress?, string?)>();
        if (!Directory.Exists(dir)) return found;
        foreach (var file in Directory.EnumerateFiles(dir, "shard-*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                var progress = JsonSerializer.Deserialize<ShardProgress>(InputFile.ReadAllText(file, MaxFileBytes, "shard progress file"), CliJson.Options);
                found.Add((file, progress, progress is null ? "empty" : null));
            }
            catch (Exception e) when (e is JsonException or IOException or InvalidDataException or UnauthorizedAccessException or NotSupportedException)
            {
                found.Add((file, null, e.Message));
            }
        }
        return found;
    }
}
