using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Tools;

/// <summary>
/// The built-in tiny model: created on first use in a cache directory (COAR_HOME, else $XDG_CACHE_HOME/coar, else
/// ~/.cache/coar) and reused after. Its weights are random, so its pictures are noise; it exists so every feature runs
/// anywhere without downloading 14 GB.
/// </summary>
public static class BuiltInModel
{
    /// <summary>Bump when the maker's output changes, so stale caches are not reused.</summary>
    public const string Version = "v2";

    public const int Seed = 20240607;

    public static string CacheRoot() => CoarDirectories.Cache();

    public static string DirectoryPath => Path.Combine(CacheRoot(), $"tiny-model-{Version}");

    /// <summary>The built-in model's directory, made now if it does not exist yet (safe against concurrent callers).</summary>
    public static string EnsureCreated()
    {
        string target = DirectoryPath;
        if (File.Exists(Path.Combine(target, CompleteMarker)))
            return target;
        Directory.CreateDirectory(CacheRoot());
        // Build it beside the target and move it into place whole, so no reader ever sees half a model.
        string temp = $"{target}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            Write(temp);
            File.WriteAllText(Path.Combine(temp, CompleteMarker), Version);
            if (Directory.Exists(target))
                Directory.Delete(target, recursive: true); // an incomplete leftover without the marker
            Directory.Move(temp, target);
        }
        catch (IOException) when (File.Exists(Path.Combine(target, CompleteMarker)))
        {
            // Another process finished first; use its copy.
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
        return target;
    }

    /// <summary>Writes the built-in model's files into a directory.</summary>
    public static void Write(string directory) =>
        CheckpointMaker.Write(directory, ModelShape.Tiny, WeightFill.Random, Seed);

    private const string CompleteMarker = ".complete";
}
