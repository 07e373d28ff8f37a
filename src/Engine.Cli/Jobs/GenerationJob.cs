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
/// rest with the same seeds: a resumed job ends with the same files as an uninterrupted one. job.json is written only
/// by <see cref="Commit"/>, once the job has passed every check, so a job refused for a bad prompt leaves nothing that
/// would block its corrected rerun.
/// </summary>
public sealed class GenerationJob
{
    public const string ManifestName = "job.json";

    /// <summary>The most images one job may ask for (lines x copies).</summary>
    public const int MaxImages = 100_000;

    private readonly JsonObject _manifest;
    private readonly bool _manifestCurrent;

    private GenerationJob(string outputDir, ulong baseSeed, IReadOnlyList<JobImage> images, JsonObject manifest, bool manifestCurrent)
    {
        OutputDir = outputDir;
        BaseSeed = baseSeed;
        Images = images;
        _manifest = manifest;
        _manifestCurrent = manifestCurrent;
    }

    public string OutputDir { get; }
    public ulong BaseSeed { get; }
    public IReadOnlyList<JobImage> Images { get; }

    /// <summary>Images whose PNG and sidecar are not both there yet.</summary>
    public IEnumerable<JobImage> Pending =>
        Images.Where(i => !File.Exists(Path.Combine(OutputDir, i.PngName)) || !File.Exists(Path.Combine(OutputDir, i.SidecarName)));

    /// <summary>
    /// Plans the job in <paramref name="outputDir"/> (which the caller has locked): reads a previous job.json, checks
    /// it is this job, and lists the images with their seeds. Writes nothing but the removal of a killed run's temp files.
    /// </summary>
    /// <param name="seed">The base seed asked for; null: the one a previous run of this job chose, else a fresh random one.</param>
    public static GenerationJob Plan(string outputDir, IReadOnlyList<JobLine> lines, JobSettings settings, ulong? seed,
        Func<string, (int Width, int Height)> parseSize)
    {
        long total = lines.Sum(l => (long)(l.Count ?? settings.Count));
        if (total > MaxImages)
            throw new UsageException($"the job asks for {total} images, more than the {MaxImages} one job may hold; split it");
        Directory.CreateDirectory(outputDir);
        RemoveTemporaries(outputDir);
        string manifestPath = Path.Combine(outputDir, ManifestName);
        var manifest = new JsonObject
        {
            ["prompts_sha256"] = Hash(lines),
            ["width"] = settings.Width, ["height"] = settings.Height, ["cfg"] = settings.Cfg, ["top_k"] = settings.TopK,
            ["temperature"] = settings.Temperature, ["count"] = settings.Count, ["concepts"] = settings.Concepts,
            ["identity_mask"] = settings.IdentityMask,
        };
        bool current = false;
        if (File.Exists(manifestPath) && Previous(manifestPath) is var (previous, previousSeed))
        {
            string? difference = manifest.Select(kv => (kv.Key, Before: previous[kv.Key]?.ToJsonString() ?? "(absent)", Now: kv.Value!.ToJsonString()))
                .Where(d => d.Before != d.Now).Select(d => $"{d.Key} was {d.Before}, now {d.Now}").FirstOrDefault();
            if (difference is null)
            {
                if (seed is { } asked && asked != previousSeed)
                    throw new UsageException($"{outputDir} holds this job with --seed {previousSeed}, not {asked}; use another --out");
                seed = previousSeed;
                current = true;
            }
            else if (HasImages(outputDir))
            {
                throw new UsageException(
                    $"{outputDir} holds a different job ({difference}); use another --out, or delete {ManifestName} there to start over");
            }
            // else: a job that never wrote an image (e.g. it was stopped before its first) is simply replaced.
        }
        ulong baseSeed = seed ?? (ulong)Random.Shared.NextInt64(0, int.MaxValue);
        manifest["base_seed"] = baseSeed;

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
                ulong imageSeed = line.Seed is { } ls ? unchecked(ls + (ulong)k) : baseSeed + running;
                images.Add(new JobImage(i, k, $"{i:D5}-{k:D3}", new ImagePrompt(line.Prompt, w, h, imageSeed, sampling)));
            }
        }
        return new GenerationJob(outputDir, baseSeed, images, manifest, current);
    }

    /// <summary>Records the job in job.json (atomically), once it has passed every check and before its first image.</summary>
    public void Commit()
    {
        if (!_manifestCurrent)
            AtomicFile.WriteAllText(Path.Combine(OutputDir, ManifestName), _manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The previous manifest and its base seed; an error when job.json is not one.</summary>
    private static (JsonObject Manifest, ulong Seed)? Previous(string manifestPath)
    {
        JsonObject? previous;
        try
        {
            previous = JsonNode.Parse(InputFile.ReadAllText(manifestPath, 1 << 20, "job manifest"),
                documentOptions: new JsonDocumentOptions { MaxDepth = 16, AllowDuplicateProperties = false }) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{manifestPath}: not a job manifest of `coar generate` ({e.Message}); delete it to start over");
        }
        if (previous?["base_seed"] is not JsonValue storedSeed || !storedSeed.TryGetValue<ulong>(out ulong value))
            throw new InvalidDataException($"{manifestPath}: not a job manifest of `coar generate` (no base_seed); delete it to start over");
        return (previous, value);
    }

    /// <summary>Whether a previous job left images here (NNNNN-NNN.png).</summary>
    private static bool HasImages(string outputDir) =>
        Directory.EnumerateFiles(outputDir, "?????-???.png").Any();

    /// <summary>
    /// Temp files of a run that was killed before it could clean up (a clean stop removes its own): every write goes
    /// to ".NAME.PID.GUID.tmp" and is renamed, so these are never finished outputs. The caller holds the directory's
    /// lock, so no other writer is at work here.
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
