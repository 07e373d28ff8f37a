using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Training;

/// <summary>Finds the user's photos, and makes (once) the frozen model's class images for DPP.</summary>
public static class TrainingData
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".gif"];

    /// <summary>How the frozen model draws class images: the generation defaults (cfg 4, top-k 2000, temperature 1).</summary>
    public static SamplingSettings ClassImageSampling { get; } = new();

    /// <summary>The image files of a folder (or a single file), sorted by name; an error if there are none.</summary>
    public static IReadOnlyList<string> ImageFiles(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new DirectoryNotFoundException("--images: no folder or file given");
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"--images '{path}': no such folder or file");
        List<string> files;
        try
        {
            files = Directory.EnumerateFiles(path)
                .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InvalidDataException($"--images '{path}': the folder cannot be read ({e.Message})", e);
        }
        if (files.Count == 0)
            throw new FileNotFoundException($"--images '{path}': no JPEG, PNG, BMP or GIF files in it");
        return files;
    }

    /// <summary>
    /// What decides the class images: the class prompt (template and noun), the sampling settings, the base model, the
    /// backend kind (CPU and GPU numerics can sample differently), the resolution and the seed. Image i depends on
    /// nothing else (not on how many are made, nor on the batch it is drawn in), so a run asking for more reuses these
    /// and makes only the rest.
    /// </summary>
    public sealed record ClassImageKey(string Prompt, SamplingSettings Sampling, string Model, string Backend, int Resolution, int Seed)
    {
        [System.Text.Json.Serialization.JsonIgnore]
        public string Hash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(this, TrainingJson.Default.ClassImageKey))))[..12];
    }

    /// <summary>Where a key's class images are cached under <paramref name="root"/>: class-images/{class}-{hash of the key}.</summary>
    public static string ClassImageDirectory(string root, string classNoun, ClassImageKey key)
    {
        string slug = new string(classNoun.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        if (slug.Length > 40) slug = slug[..40];
        return Path.Combine(root, "class-images", $"{(slug.Length > 0 ? slug : "class")}-{key.Hash}");
    }

    /// <summary>
    /// The frozen model's images for the class prompt, made once and kept as token files (+ PNGs to look at, and the
    /// key in key.json) in <paramref name="cacheDir"/>; a later run with the same key reuses them.
    /// </summary>
    public static List<TrainingExample> ClassImages(CoarEngine engine, ClassImageKey key, int count, string cacheDir,
        IProgress<string>? log = null, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(cacheDir);
        string keyFile = Path.Combine(cacheDir, "key.json");
        if (!File.Exists(keyFile))
            AtomicFile.WriteAllText(keyFile, JsonSerializer.Serialize(key, TrainingJson.Default.ClassImageKey));
        var ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        var layout = ImageLayout.For(key.Resolution, key.Resolution, ids);
        var examples = new List<TrainingExample>();
        var missing = new List<int>();
        for (int i = 0; i < count; i++)
        {
            string file = Path.Combine(cacheDir, $"{i:D3}.json");
            if (File.Exists(file) && Cached(file) is { } tokens && Intact(tokens, layout))
                examples.Add(new TrainingExample(file, layout, tokens));
            else
                missing.Add(i);
        }
        if (missing.Count == 0) return examples;
        log?.Report($"generating {missing.Count} class image(s) for \"{key.Prompt}\" into {cacheDir}");
        var prompts = missing.Select(i => new ImagePrompt(key.Prompt, key.Resolution, key.Resolution, ImageSeed(key.Seed, i), key.Sampling)).ToList();
        foreach (var chunk in prompts.Chunk(engine.LargestBatch(key.Resolution, key.Resolution, key.Sampling.UsesGuidance, cap: 8)))
        {
            foreach (var image in engine.Generate(chunk, cancellation: cancellation))
            {
                int i = missing[prompts.IndexOf(image.Prompt)];
                string file = Path.Combine(cacheDir, $"{i:D3}.json");
                ImageFile.SavePng(image.Image, Path.ChangeExtension(file, ".png"));
                AtomicFile.WriteAllText(file, JsonSerializer.Serialize(image.Tokens, TrainingJson.Default.Int32Array));
                examples.Add(new TrainingExample(file, layout, image.Tokens));
            }
        }
        return examples.OrderBy(e => e.Source, StringComparer.Ordinal).ToList();
    }

    /// <summary>The seed of class image <paramref name="index"/>: seed * 1000 + index, as earlier runs cached them.</summary>
    public static ulong ImageSeed(int seed, int index) => (ulong)seed * 1000 + (ulong)index;

    // A damaged cache file is made again rather than trusted.
    private static bool Intact(int[] tokens, ImageLayout layout)
    {
        if (tokens.Length != layout.SequenceLength || !tokens.AsSpan(0, 3).SequenceEqual(layout.Header)) return false;
        try
        {
            layout.Codes(tokens.AsSpan(3, layout.BodyLength));
            return tokens[^2] == layout.Ids.ImageEnd && tokens[^1] == layout.Ids.EndOfTurn;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static int[]? Cached(string file)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(file), TrainingJson.Default.Int32Array);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
