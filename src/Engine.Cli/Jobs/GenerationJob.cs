using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// A batch of images for one output directory. The directory's job.json records the prompts' hash, the settings and
/// the base seed, so a job that is run again skips the images already written (a PNG and its sidecar) and draws the
/// rest with the same seeds: a resumed job ends with the same files as an uninterrupted one.
/// </summary>
public sealed class GenerationJob
{
    public const string ManifestName = "job.json";

    private GenerationJob(string outputDir, ulong baseSeed, IReadOnlyList<JobImage> images)
    {
        OutputDir = outputDir;
        BaseSeed = baseSeed;
        Images = images;
    }

    public string OutputDir { get; }
    public ulong BaseSeed { get; }
    public IReadOnlyList<JobImage> Images { get; }

    /// <summary>Images whose PNG and sidecar are not both there yet.</summary>
    public IEnumerable<JobImage> Pending =>
        Images.Where(i => !File.Exists(Path.Combine(OutputDir, i.PngName)) || !File.Exists(Path.Combine(OutputDir, i.SidecarName)));

    /// <param name="seed">The base seed asked for; null: the one a previous run of this job chose, else a fresh random one.</param>
    public static GenerationJob Prepare(string outputDir, IReadOnlyList<JobLine> lines, JobSettings settings, ulong? seed,
        Func<string, (int Width, int Height)> parseSize)
    {
        Directory.CreateDirectory(outputDir);
        RemoveTemporaries(outputDir);
        string manifestPath = Path.Combine(outputDir, ManifestName);
        string hash = Hash(lines);
        var manifest = new JsonObject
        {
            ["prompts_sha256"] = hash,
            ["width"] = settings.Width, ["height"] = settings.Height, ["cfg"] = settings.Cfg, ["top_k"] = settings.TopK,
            ["temperature"] = settings.Temperature, ["count"] = settings.Count, ["concepts"] = settings.Concepts,
            ["identity_mask"] = settings.IdentityMask,
        };
        if (File.Exists(manifestPath))
        {
            JsonObject? previous = null;
            try
            {
                previous = JsonNode.Parse(File.ReadAllText(manifestPath)) as JsonObject;
            }
            catch (JsonException)
            {
            }
            if (previous?["base_seed"] is not JsonValue storedSeed || !storedSeed.TryGetValue<ulong>(out _))
                throw new InvalidDataException($"{manifestPath}: not a job manifest of `coar generate` (no base_seed); delete it to start over");
            foreach (var (key, value) in manifest)
            {
                string before = previous[key]?.ToJsonString() ?? "(absent)";
                if (before != value!.ToJsonString())
                    throw new UsageException(
                        $"{outputDir} holds a different job ({key} was {before}, now {value.ToJsonString()}); use another --out, or delete {ManifestName} there to start over");
            }
            ulong previousSeed = previous["base_seed"]!.GetValue<ulong>();
            if (seed is { } asked && asked != previousSeed)
                throw new UsageException($"{outputDir} holds this job with --seed {previousSeed}, not {asked}; use another --out");
            seed = previousSeed;
        }
        ulong baseSeed = seed ?? (ulong)Random.Shared.NextInt64(0, int.MaxValue);
        manifest["base_seed"] = baseSeed;
        AtomicFile.WriteAllText(manifestPath, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var images = new List<JobImage>();
        ulong running = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            var (w, h) = line.Size is { } s ? parseSize(s) : (settings.Width, settings.Height);
            var sampling = new SamplingSettings(line.Cfg ?? settings.Cfg, line.TopK ?? settings.TopK, line.Temperature ?? settings.Temperature);
            int count = line.Count ?? settings.Count;
            for (int k = 0; k < count; k++, running++)
            {
                // A line's own seed numbers its copies; otherwise images count up from the job's base seed.
                ulong imageSeed = line.Seed is { } ls ? ls + (ulong)k : baseSeed + running;
                images.Add(new JobImage(i, k, $"{i:D5}-{k:D3}", new ImagePrompt(line.Prompt, w, h, imageSeed, sampling)));
            }
        }
        return new GenerationJob(outputDir, baseSeed, images);
    }

    /// <summary>
    /// Temp files of a run that was killed before it could clean up (a clean stop removes its own): every write goes
    /// to ".NAME.PID.GUID.tmp" and is renamed, so these are never finished outputs.
    /// </summary>
    private static void RemoveTemporaries(string outputDir)
    {
        foreach (var file in Directory.EnumerateFiles(outputDir, ".*.tmp"))
            AtomicFile.TryDelete(file);
    }

    private static string Hash(IReadOnlyList<JobLine> lines)
    {
        var text = string.Join("\n", lines.Select(l => JsonSerializer.Serialize(l)));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
