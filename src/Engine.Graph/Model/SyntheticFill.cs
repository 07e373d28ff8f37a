using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>Fills a weight with seeded uniform values, generated on the host in parallel chunks and uploaded.</summary>
internal static class SyntheticFill
{
    private const int Chunk = 1 << 22;

    /// <summary>FNV-1a over the name with the seed and chunk: the same on every run (string.GetHashCode is not).</summary>
    private static int StableSeed(int seed, string name, int chunk)
    {
        uint h = 2166136261u ^ (uint)seed;
        foreach (char c in name) h = (h ^ c) * 16777619u;
        return (int)((h ^ (uint)chunk) * 16777619u);
    }

    public static void Fill(IBackend backend, Tensor t, TensorSpec spec, int seed)
    {
        (float center, float half) = spec.Group switch
        {
            "norms" when spec.Name.EndsWith(".bias", StringComparison.Ordinal) => (0f, 0.2f),
            "norms" => (1f, 0.2f),
            "embedding" => (0f, 1.7f),
            _ => (0f, MathF.Sqrt(3f / spec.Shape[^1])),
        };
        long n = t.ElementCount;
        int chunks = (int)((n + Chunk - 1) / Chunk);
        for (int c0 = 0; c0 < chunks; c0 += Environment.ProcessorCount)
        {
            int batch = Math.Min(Environment.ProcessorCount, chunks - c0);
            var parts = new ushort[batch][];
            Parallel.For(0, batch, b =>
            {
                long start = (long)(c0 + b) * Chunk;
                int len = (int)Math.Min(Chunk, n - start);
                var bits = new ushort[len];
                var rng = new Random(StableSeed(seed, spec.Name, c0 + b));
                for (int i = 0; i < len; i++)
                    bits[i] = BFloat16.FromSingle(center + half * (float)(rng.NextDouble() * 2 - 1));
                parts[b] = bits;
            });
            for (int b = 0; b < batch; b++)
            {
                long start = (long)(c0 + b) * Chunk;
                var view = t.View([parts[b].Length], start);
                switch (t.DType)
                {
                    case DType.BF16:
                        backend.Upload<ushort>(parts[b], view);
                        break;
                    case DType.F16:
                        backend.Upload<Half>(parts[b].Select(v => (Half)BFloat16.ToSingle(v)).ToArray(), view);
                        break;
                    default:
                        backend.Upload<float>(parts[b].Select(BFloat16.ToSingle).ToArray(), view);
                        break;
                }
            }
        }
    }
}
