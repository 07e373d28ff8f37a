using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>
/// The image files of a job's prompts (--image FILE or FILE=PLACEHOLDER, a line's "images" alike; the placeholder names
/// the concept the image shows, whose index embedding then goes on its tokens): every one read and checked before the model loads
/// (an unreadable or hostile file is a bad input naming it, through the engine's decode limits), then each encoded once
/// however many prompts use it.
/// </summary>
public sealed class ReferenceImageFiles
{
    private readonly Dictionary<string, RgbImage> _decoded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ReferenceImage> _encoded = new(StringComparer.Ordinal);

    /// <summary>Reads every file now; a missing, unreadable or undecodable one is an error naming it.</summary>
    public static ReferenceImageFiles Read(IEnumerable<string> arguments)
    {
        var files = new ReferenceImageFiles();
        foreach (var (path, _) in arguments.Select(ConceptBinding.Parse))
            if (!files._decoded.ContainsKey(path))
                files._decoded[path] = ImageFile.Load(path);
        return files;
    }

    /// <summary>The files' images for a prompt, encoded by <paramref name="engine"/> (once per file), each with its owner.</summary>
    public IReadOnlyList<ReferenceImage> For(IReadOnlyList<string> arguments, CoarEngine engine) =>
        arguments.Select(ConceptBinding.Parse).Select(a =>
        {
            if (!_encoded.TryGetValue(a.File, out var reference))
                _encoded[a.File] = reference = engine.EncodeReference(_decoded[a.File], a.File);
            return reference with { Owner = a.Placeholder };
        }).ToList();

    /// <summary>What identifies the files (names and contents), for a job's manifest.</summary>
    public static string Describe(IReadOnlyList<string> arguments) =>
        string.Join(";", arguments.Select(ConceptBinding.Parse).Select(a =>
            $"{Path.GetFileName(a.File)}:{FileDigest.Of(a.File, ImageDecodeLimits.Default.MaxBytes, "image file")}{(a.Placeholder is null ? "" : "=" + a.Placeholder)}"));
}
