using System.Text.Json;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// How far the job in one output directory has come, over all its shards: the images its job.json promises, those
/// done (a whole PNG and a sidecar that agrees with it), those missing, those corrupt (a PNG cut short or damaged, a
/// sidecar missing or unreadable or naming another size), and what each shard's run last reported.
/// </summary>
public sealed record JobStatus(string OutputDir, int Images, int Done, IReadOnlyList<string> Missing, IReadOnlyList<CorruptImage> Corrupt,
    IReadOnlyList<ShardState> Shards)
{
    public bool Complete => Done == Images;

    /// <summary>Scans <paramref name="outputDir"/>; an InvalidDataException when it holds no job.</summary>
    public static JobStatus Scan(string outputDir)
    {
        if (!Directory.Exists(outputDir))
            throw new DirectoryNotFoundException($"{outputDir}: no such directory");
        string manifest = Path.Combine(outputDir, GenerationJob.ManifestName);
        if (!File.Exists(manifest))
            throw new InvalidDataException($"{outputDir}: no {GenerationJob.ManifestName}, so not the output of `coar generate --out`");
        var stems = GenerationJob.ExpectedStems(manifest);
        var missing = new List<string>();
        var corrupt = new List<CorruptImage>();
        foreach (var stem in stems)
        {
            string png = Path.Combine(outputDir, stem + ".png"), sidecar = Path.Combine(outputDir, stem + ".json");
            if (!File.Exists(png))
            {
                missing.Add(stem);
                continue;
            }
            if (Problem(png, sidecar) is { } problem)
                corrupt.Add(new CorruptImage(stem, problem));
        }
        return new JobStatus(outputDir, stems.Count, stems.Count - missing.Count - corrupt.Count, missing, corrupt, ShardStates(outputDir));
    }

    private static string? Problem(string png, string sidecar)
    {
        if (PngCheck.Problem(png, out int width, out int height) is { } bad)
            return $"{Path.GetFileName(png)}: {bad}";
        if (!File.Exists(sidecar))
            return $"{Path.GetFileName(sidecar)} is missing";
        try
        {
            using var doc = JsonDocument.Parse(InputFile.ReadAllText(sidecar, 16 << 20, "sidecar"));
            var root = doc.RootElement;
            int w = root.GetProperty("width").GetInt32(), h = root.GetProperty("height").GetInt32();
            return w == width && h == height ? null : $"{Path.GetFileName(sidecar)} says {w}x{h}, the PNG is {width}x{height}";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException
                                      or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return $"{Path.GetFileName(sidecar)} is not a readable sidecar ({e.Message})";
        }
    }

    private static List<ShardState> ShardStates(string outputDir) =>
        ShardProgress.ReadAll(outputDir).Select(found =>
        {
            if (found.Progress is not { } p)
                return new ShardState(Path.GetFileNameWithoutExtension(found.File), "unreadable", "", 0, 0, 0, 0, null, null, found.Problem);
            string state = p.State;
            // A run on this machine whose process is gone was killed; elsewhere only its last report can tell.
            if (state == ShardProgress.Running && p.Host == Environment.MachineName && !AtomicFile.ProcessIsAlive(p.Pid))
                state = "stopped (its process is gone)";
            return new ShardState($"{p.Shard}/{p.Shards}", state, p.Host, p.Pid, p.Images, p.Done, p.Written, p.Started, p.Updated, p.Error);
        }).ToList();
}

public sealed record CorruptImage(string Name, string Problem);

/// <summary>A shard's run as it last reported (see <see cref="ShardProgress"/>).</summary>
public sealed record ShardState(string Shard, string State, string Host, int Pid, int Images, int Done, int Written,
    DateTimeOffset? Started, DateTimeOffset? Updated, string? Error);
