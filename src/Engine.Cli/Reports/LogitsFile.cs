using System.Text.Json;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli;

/// <summary>Writes a logit vector as .npy (float32) or .json (a plain array), atomically.</summary>
public static class LogitsFile
{
    public static void Write(string path, float[] logits)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        switch (ext)
        {
            case ".npy":
                NpyFile.WriteFloat32(path, logits, logits.Length);
                break;
            case ".json":
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(logits));
                break;
            default:
                throw new UsageException($"--out '{path}': expected a .npy or .json file name");
        }
    }
}
