using CoAR.Engine.Tools;

namespace CoAR.Engine.Tests.Model;

/// <summary>Tiny checkpoints made once per test run in a temp directory and shared by the model tests.</summary>
internal static class TinyModels
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), $"coar-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        };
        return dir;
    });

    private static readonly Dictionary<string, string> Made = new();

    /// <summary>The directory of a tiny checkpoint of this shape, written on first request.</summary>
    public static string Get(string key, ModelShape shape, int seed = 7)
    {
        lock (Made)
        {
            if (Made.TryGetValue(key, out var dir)) return dir;
            dir = Path.Combine(Root.Value, key);
            CheckpointMaker.Write(dir, shape, WeightFill.Random, seed);
            Made[key] = dir;
            return dir;
        }
    }

    public static string Default => Get("default", ModelShape.Tiny);

    /// <summary>
    /// The tiny model with its vocabulary cut after the text tokens: image codes, special ids and the tiny text
    /// vocabulary, without the 55,000 reserved rows no prompt or image uses. The CUDA tests run it: on the CUDA
    /// stand-in the logits GEMV is the largest launch of a decode step.
    /// </summary>
    public static string Cuda => Get("cuda", ModelShape.Tiny with { Vocab = TinyVocabulary.FirstTextId + TinyVocabulary.TextTokenCount });

    /// <summary>A small-vocabulary variant for tests that build many models.</summary>
    public static ModelShape Small { get; } = ModelShape.Tiny with { Vocab = 9000, Layers = 2 };

    public static string NewTempDir(string name)
    {
        string dir = Path.Combine(Root.Value, $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
