namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), the counter-based generator CUDA's
/// curand and PyTorch use: the output is a pure function of (key, counter), so a draw keyed by (image seed, step) is
/// the same whichever batch the image runs in and whichever backend computes it.
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    public static (uint, uint, uint, uint) Block(uint key0, uint key1, uint c0, uint c1, uint c2, uint c3)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ key0, lo1, hi0 ^ c3 ^ key1, lo0);
            key0 += W0;
            key1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>A uniform float in [0, 1) with 24 random bits, from the first output word.</summary>
    public static float Uniform(ulong seed, ulong counter)
    {
        var (x, _, _, _) = Block((uint)seed, (uint)(seed >> 32), (uint)counter, (uint)(counter >> 32), 0, 0);
        return (x >> 8) * (1f / 16777216f);
    }
}
