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
/// would block its corrected rerun. A job may be split into shards (<see cref="Shard"/>): each image's name and seed
/// are the same whatever the split, so the shards of a job, run anywhere, together write the images of the whole job.
/// </summary>
public sealed class GenerationJob
{
    public const string ManifestName = "job.json";

    /// <summary>The most images one job may ask for (lines x copies).</summary>
    public const int MaxImages = 100_000;

    /// <summary>The manifest's record of how many images each line makes: [[copies, lines], ...], run-length encoded.</summary>
    public const string ImageCountsKey = "image_counts";

    private readonly JsonObject _manifest;
    private readonly bool _manifestCurrent;

    private GenerationJob(string outputDir, ulong baseSeed, IReadOnlyList<JobImage> images, Shard shard, JsonObject manifest, bool manifestCurrent)
    {
        OutputDir = outputDir;
        BaseSeed = baseSeed;
        Images = images;
        Shard = shard;
        _manifest = manifest;
        _manifestCurrent = manifestCurrent;
    }

    public string OutputDir { get; }
    public ulong BaseSeed { get; }

    /// <summary>Every image of the job, in job order.</summary>
    public IReadOnlyList<JobImage> Images { get; }

    public Shard Shard { get; }

    /// <summary>The images this shard makes.</summary>
    public IEnumerable<JobImage> Owned => Images.Where((_, i) => Shard.Owns(i));

    /// <summary>This shard's images whose PNG and sidecar are not both there yet.</summary>
    public IEnumerable<JobImage> Pending =>
        Owned.Where(i => !File.Exists(Path.Combine(OutputDir, i.PngName)) || !File.Exists(Path.Combine(OutputDir, i.SidecarName)));

    /// <summary>
    /// Plans the job in <paramref name="outputDir"/> (whose lock for this shard the caller holds): reads a previous
    /// job.json, checks it is this job, and lists the images with their seeds. Writes nothing but the removal of the
    /// temp files a killed run of this shard left.
    /// </summary>
    /// <param name="seed">
    /// The base seed asked for; null: the one a previous run of this job chose, else for a sharded job one derived
    /// from the job itself (so every shard, started anywhere, agrees), else a fresh random one.
    /// </param>
    /// <param name="sharded">The shard to run (I/N, where 0/1 is the whole job with a seed derived as for shards); null: the whole job.</param>
    public static GenerationJob Plan(string outputDir, IReadOnlyList<JobLine> lines, JobSettings settings, ulong? seed,
        Func<string, (int Width, int Height)> parseSize, Shard? sharded = null)
    {
        var shard = sharded ?? Shard.Whole;
        long total = lines.Sum(l => (long)(l.Count ?? settings.Count));
        if (total > MaxImages)
            throw new UsageException($"the job asks for {total} images, more than the {MaxImages} one job may hold; split it");
        Directory.CreateDirectory(outputDir);
        string manifestPath = Path.Combine(outputDir, ManifestName);
        var manifest = new JsonObject
        {
            ["prompts_sha256"] = Hash(lines),
            ["width"] = settings.Width, ["height"] = settings.Height, ["cfg"] = settings.Cfg, ["top_k"] = settings.TopK,
            ["temperature"] = settings.Temperature, ["count"] = settings.Count, ["concepts"] = settings.Concepts,
            ["identity_mask"] = settings.IdentityMask,
        };
        // Recorded only when not the default, so that a job from before these settings keeps its identity.
        if (settings.References.Length > 0) manifest["references"] = settings.References;
        if (!settings.IndexEmbeddings) manifest["index_embeddings"] = false;
        if (!settings.Instruction) manifest["instruction"] = false;
        if (settings.Lora.Length > 0) manifest["lora"] = settings.Lora;
        if (settings.Projections.Length > 0) manifest["projections"] = settings.Projections;
        string identity = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToJsonString())));
        var counts = lines.Select(l => l.Count ?? settings.Count).ToList();
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
                current = previous[ImageCountsKey] is not null; // a manifest from before image counts were recorded is rewritten
            }
            else if (HasImages(outputDir))
            {
                throw new UsageException(
                    $"{outputDir} holds a different job ({difference}); use another --out, or delete {ManifestName} there to start over");
            }
            // else: a job that never wrote an image (e.g. it was stopped before its first) is simply replaced.
        }
        ulong baseSeed = seed ?? (sharded is null ? (ulong)Random.Shared.NextInt64(0, int.MaxValue) : DerivedSeed(identity));
        manifest["base_seed"] = baseSeed;
        manifest[ImageCountsKey] = EncodeCounts(counts);

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
                images.Add(new JobImage(i, k, JobImage.StemFor(i, k), new ImagePrompt(line.Prompt, w, h, imageSeed, sampling)
                {
                    Instruction = line.Instruction ?? settings.Instruction,
                }));
            }
        }
        var job = new GenerationJob(outputDir, baseSeed, images, shard, manifest, current);
        RemoveTemporaries(outputDir, job.Owned);
        return job;
    }

    /// <summary>A base seed in the range of the random ones, from the job's identity: the same for every shard of a job.</summary>
    private static ulong DerivedSeed(string identity) =>
        (ulong)(Convert.ToUInt32(identity[..8], 16) & int.MaxValue);

    private static JsonArray EncodeCounts(IReadOnlyList<int> counts)
    {
        var runs = new JsonArray();
        for (int i = 0; i < counts.Count;)
        {
            int j = i;
            while (j < counts.Count && counts[j] == counts[i]) j++;
            runs.Add(new JsonArray(counts[i], j - i));
            i = j;
        }
        return runs;
    }

    /// <summary>
    /// The image names a job.json promises (line by line, copy by copy), from its image counts; an error naming the
    /// file when it has none or they are malformed.
    /// </summary>
    public static List<string> ExpectedStems(string manifestPath)
    {
        var (manifest, _) = Previous(manifestPath) ?? throw new InvalidDataException($"{manifestPath}: not a job manifest");
        if (manifest[ImageCountsKey] is not JsonArray runs)
            throw new InvalidDataException($"{manifestPath}: records no {ImageCountsKey} (written by an older `coar generate`); run the job once more to record them");
        var stems = new List<string>();
        int line = 0;
        foreach (var run in runs)
        {
            if (run is not JsonArray { Count: 2 } pair || !TryInt(pair[0], out int copies) || !TryInt(pair[1], out int repeat)
                || copies is < 1 or > JobLine.MaxCountPerLine || repeat is < 1 or > JobLine.MaxLines
                || (long)line + repeat > JobLine.MaxLines || stems.Count + (long)copies * repeat > MaxImages)
                throw new InvalidDataException($"{manifestPath}: {ImageCountsKey} entry {run?.ToJsonString()} is not [copies, lines] within the job limits");
            for (int r = 0; r < repeat; r++, line++)
                for (int k = 0; k < copies; k++)
                    stems.Add(JobImage.StemFor(line, k));
        }
        return stems;
    }

    private static bool TryInt(JsonNode? node, out int value)
    {
        value = 0;
        return node is JsonValue v && v.TryGetValue(out value);
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
    /// Temp files of a run of this shard that was killed before it could clean up (a clean stop removes its own): every
    /// write goes to ".NAME.PID.GUID.tmp" and is renamed, so these are never finished outputs. Only this shard's images
    /// are touched: the caller holds this shard's lock, and other shards may be writing theirs into the same directory.
    /// </summary>
    private static void RemoveTemporaries(string outputDir, IEnumerable<JobImage> owned)
    {
        var names = owned.SelectMany(i => new[] { i.PngName, i.SidecarName }).ToHashSet(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(outputDir, ".*.tmp"))
        {
            var parts = Path.GetFileName(file)[1..].Split('.');
            if (parts.Length >= 5 && names.Contains($"{parts[0]}.{parts[1]}"))
                AtomicFile.TryDelete(file);
        }
        AtomicFile.RemoveStaleTemporaries(Path.Combine(outputDir, ManifestName));
    }

    private static string Hash(IReadOnlyList<JobLine> lines)
    {
        var text = string.Join("\n", lines.Select(l => JsonSerializer.Serialize(l)));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
