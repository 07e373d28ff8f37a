namespace CoAR.Engine.Tools;

/// <summary>A tiny, fast, fully specified PRNG (Steele et al.), so generated checkpoints are identical on every machine and .NET version.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in (-1, 1) from 16 random bits: enough resolution for bf16 weights, four per call of Next.</summary>
    public static float Symmetric(ulong bits16) => ((bits16 & 0xFFFF) + 0.5f) / 32768f - 1f;

    /// <summary>A stable 64-bit seed for a named stream (FNV-1a of the name mixed with the base seed).</summary>
    public static ulong SeedFor(int seed, string name)
    {
        ulong h = 14695981039346656037UL ^ (ulong)(uint)seed;
        foreach (char c in name)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return h;
    }
}
