using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Managed.Torch;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>
/// A VQGAN with Chameleon's structure (5 levels, 16x downsampling, 2 blocks per encoder level and 3 per decoder level,
/// mid attention, the full 8192-entry codebook since image tokens are 4..8195) but few channels: ch 32 (the least
/// that GroupNorm's 32 groups allow), z and embedding 8 wide. Seeded random weights: convs N(0, 1/fan_in), small
/// biases, norms near identity, a unit-scale codebook. Not a real tokenizer: for tests and the built-in demo.
/// </summary>
public static class TinyVqgan
{
    public static VqganConfig Config { get; } = new(EmbedDim: 8, NEmbed: 8192, ZChannels: 8, Ch: 32,
        ChMult: [1, 1, 2, 2, 4], NumResBlocks: 2, AttnResolutions: [], Resolution: 256, InChannels: 3, OutCh: 3,
        DoubleZ: false);

    /// <summary>Writes vqgan.safetensors and vqgan.json into <paramref name="dir"/>.</summary>
    public static void Write(string dir, int seed)
    {
        Directory.CreateDirectory(dir);
        SafetensorsOutput.Write(CreateWeights(seed), Path.Combine(dir, VqganConverter.WeightsFileName));
        Config.Save(Path.Combine(dir, VqganConverter.ConfigFileName));
    }

    /// <summary>Every tensor of <see cref="Config"/> in layout order, F32; the same seed gives the same bytes.</summary>
    public static IReadOnlyList<CheckpointTensor> CreateWeights(int seed)
    {
        var random = new Random(seed);
        var tensors = new List<CheckpointTensor>();
        foreach (VqganTensorSpec spec in VqganWeightLayout.Expected(Config))
        {
            var values = new float[spec.Shape.Aggregate(1L, (n, d) => n * d)];
            bool isNorm = spec.Name.Contains(".norm", StringComparison.Ordinal);
            if (spec.Name == "quantize.embedding.weight")
                Fill(values, random, mean: 0, std: 1);
            else if (spec.Shape.Length == 4)
                Fill(values, random, mean: 0, std: 1 / Math.Sqrt(spec.Shape[1] * spec.Shape[2] * spec.Shape[3]));
            else if (isNorm && spec.Name.EndsWith(".weight", StringComparison.Ordinal))
                Fill(values, random, mean: 1, std: 0.05);
            else
                Fill(values, random, mean: 0, std: 0.02);
            tensors.Add(new CheckpointTensor(spec.Name, DType.F32, spec.Shape,
                MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        }
        return tensors;
    }

    // Box-Muller, both outputs of each pair used: Random's stream is fixed for a seed, so the weights are too.
    private static void Fill(float[] values, Random random, double mean, double std)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double radius = std * Math.Sqrt(-2 * Math.Log(1.0 - random.NextDouble()));
            double angle = 2 * Math.PI * random.NextDouble();
            values[i] = (float)(mean + radius * Math.Cos(angle));
            if (i + 1 < values.Length)
                values[i + 1] = (float)(mean + radius * Math.Sin(angle));
        }
    }
}
