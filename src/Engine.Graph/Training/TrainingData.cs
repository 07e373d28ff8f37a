using System.Text.Json;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Training;

/// <summary>Turns the user's photos into training examples, and makes (once) the frozen model's class images for DPP.</summary>
public static class TrainingData
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".bmp", ".gif"];

    /// <summary>The image files of a folder (or a single file), sorted by name; an error if there are none.</summary>
    public static IReadOnlyList<string> ImageFiles(string path)
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"--images '{path}': no such folder");
        var files = Directory.EnumerateFiles(path)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            throw new FileNotFoundException($"--images '{path}': no JPEG, PNG, BMP or GIF files in it");
        return files;
    }

    /// <summary>
    /// Encodes each photo at the training resolution: center crop to the best Lumina crop size, or with
    /// <paramref name="randomCrops"/> &gt; 0 that many seeded random-offset crops per photo (augmentation).
    /// </summary>
    public static List<TrainingExample> EncodePhotos(IReadOnlyList<string> files, int resolution, VqganModel vqgan, ImageTokenIds ids,
        int randomCrops = 0, int seed = 0)
    {
        var examples = new List<TrainingExample>();
        for (int f = 0; f < files.Count; f++)
        {
            var image = ImageFile.Load(files[f]);
            int variants = Math.Max(1, randomCrops);
            for (int v = 0; v < variants; v++)
            {
                var input = ImagePreprocessor.Preprocess(image, resolution, randomCrops > 0 ? new Random(HashCode.Combine(seed, f, v)) : null);
                var layout = ImageLayout.For(input.Width, input.Height, ids);
                examples.Add(TrainingExample.FromCodes(files[f], layout, vqgan.Encode(input)));
            }
        }
        return examples;
    }

    /// <summary>Where a run's class images are cached under <paramref name="root"/>: one folder per class, model, resolution and seed.</summary>
    public static string ClassImageDirectory(string root, TrainingSettings s, string modelFingerprint)
    {
        string slug = new string(s.ClassNoun.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        return Path.Combine(root, "class-images", $"{slug}-{modelFingerprint}-{s.Resolution}px-seed{s.Seed}");
    }

    /// <summary>
    /// The frozen model's images for "a photo of a {class}", made once and kept as token files (+ PNGs to look at)
    /// in <paramref name="cacheDir"/>; a later run of the same class, model, resolution and seed reuses them.
    /// </summary>
    public static List<TrainingExample> ClassImages(CoarEngine engine, string classPrompt, int count, int resolution, int seed,
        string cacheDir, IProgress<string>? log = null, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(cacheDir);
        var ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        var layout = ImageLayout.For(resolution, resolution, ids);
        var examples = new List<TrainingExample>();
        var missing = new List<int>();
        for (int i = 0; i < count; i++)
        {
            string file = Path.Combine(cacheDir, $"{i:D3}.json");
            if (File.Exists(file) && JsonSerializer.Deserialize(File.ReadAllText(file), TrainingJson.Default.Int32Array) is { } tokens && tokens.Length == layout.SequenceLength)
                examples.Add(new TrainingExample(file, layout, tokens));
            else
                missing.Add(i);
        }
        if (missing.Count == 0) return examples;
        log?.Report($"generating {missing.Count} class image(s) for \"{classPrompt}\" into {cacheDir}");
        var prompts = missing.Select(i => new ImagePrompt(classPrompt, resolution, resolution, (ulong)seed * 1000 + (ulong)i, new SamplingSettings())).ToList();
        foreach (var chunk in prompts.Chunk(engine.LargestBatch(resolution, resolution, guided: true, cap: 8)))
        {
            foreach (var image in engine.Generate(chunk, cancellation: cancellation))
            {
                int i = (int)(image.Prompt.Seed - (ulong)seed * 1000);
                string file = Path.Combine(cacheDir, $"{i:D3}.json");
                ImageFile.SavePng(image.Image, Path.ChangeExtension(file, ".png"));
                AtomicFile.WriteAllText(file, JsonSerializer.Serialize(image.Tokens, TrainingJson.Default.Int32Array));
                examples.Add(new TrainingExample(file, layout, image.Tokens));
            }
        }
        return examples.OrderBy(e => e.Source, StringComparer.Ordinal).ToList();
    }
}
