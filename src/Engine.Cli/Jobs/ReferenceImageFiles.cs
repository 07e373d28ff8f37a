using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// The image files of a job's prompts (--image, a line's "images"): every one read and checked before the model loads
/// (an unreadable or hostile file is a bad input naming it, through the engine's decode limits), then each encoded once
/// however many prompts use it.
/// </summary>
public sealed class ReferenceImageFiles
{
    private readonly Dictionary<string, RgbImage> _decoded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ReferenceImage> _encoded = new(StringComparer.Ordinal);

    /// <summary>Reads every file now; a missing, unreadable or undecodable one is an error naming it.</summary>
    public static ReferenceImageFiles Read(IEnumerable<string> paths)
    {
        var files = new ReferenceImageFiles();
        foreach (var path in paths)
            if (!files._decoded.ContainsKey(path))
                files._decoded[path] = ImageFile.Load(path);
        return files;
    }

    /// <summary>The files' images for a prompt, encoded by <paramref name="engine"/> (once per file).</summary>
    public IReadOnlyList<ReferenceImage> For(IReadOnlyList<string> paths, CoarEngine engine) =>
        paths.Select(path =>
        {
            if (!_encoded.TryGetValue(path, out var reference))
                _encoded[path] = reference = engine.EncodeReference(_decoded[path], path);
            return reference;
        }).ToList();

    /// <summary>What identifies the files (names and contents), for a job's manifest.</summary>
    public static string Describe(IReadOnlyList<string> paths) =>
        string.Join(";", paths.Select(path => $"{Path.GetFileName(path)}:{FileDigest.Of(path, ImageDecodeLimits.Default.MaxBytes, "image file")}"));
}
