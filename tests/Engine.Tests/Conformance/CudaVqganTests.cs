using CoAR.Engine.Managed.Conformance;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Tests.Model;
using CoAR.Engine.Tools.Vqgan;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>
/// The tiny VQGAN's encoder and decoder on the CUDA backend (a GPU, or the CoAR CUDA stand-in) against the CPU
/// backend: every layer (convolutions, GroupNorm and swish, spatial attention, down- and upsampling, the codebook)
/// in fp32 on both, so codes agree exactly and pixels to fp32 rounding.
/// </summary>
[NonParallelizable]
public class CudaVqganTests
{
    private static readonly Lazy<string> Dir = new(() =>
    {
        string dir = TinyModels.NewTempDir("cuda-vqgan");
        TinyVqgan.Write(dir, seed: 5);
        return dir;
    });

    [Test]
    public void EncoderGivesTheCpuCodes()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        using var cpuVqgan = VqganModel.Load(Dir.Value, new CpuBackend());
        using var cudaVqgan = VqganModel.Load(Dir.Value, cuda);
        var rng = new Random(1);
        var image = new ModelInputImage(64, 32, Enumerable.Range(0, 3 * 32 * 64).Select(i => (float)Math.Sin(i * 0.37 + rng.NextDouble())).ToArray());

        var codes = cudaVqgan.Encode(image);

        Assert.That(codes, Has.Length.EqualTo(2 * 4));
        Assert.That(codes, Is.EqualTo(cpuVqgan.Encode(image)));
    }

    [Test]
    public void DecoderGivesTheCpuPixels()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        using var cpuVqgan = VqganModel.Load(Dir.Value, new CpuBackend());
        using var cudaVqgan = VqganModel.Load(Dir.Value, cuda);
        int[] codes = [5, 8191, 0, 4000, 17, 17, 2222, 3];

        var pixels = cudaVqgan.Decode(codes, 2, 4);
        var expected = cpuVqgan.Decode(codes, 2, 4);

        Assert.That(pixels, Has.Length.EqualTo(3 * 32 * 64));
        Assert.That(pixels.All(float.IsFinite), Is.True, "NaN or Inf in the CUDA pixels");
        Assert.That(ConformanceRunner.Nmse(expected, pixels), Is.LessThan(1e-8));
    }
}
