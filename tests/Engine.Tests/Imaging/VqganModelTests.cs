using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Tests.Model;
using CoAR.Engine.Tools.Vqgan;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

public class VqganModelTests
{
    private static readonly Lazy<string> Dir = new(() =>
    {
        string dir = TinyModels.NewTempDir("vqgan");
        TinyVqgan.Write(dir, seed: 5);
        return dir;
    });

    private static float[] Image(int h, int w)
    {
        var rng = new Random(1);
        return Enumerable.Range(0, 3 * h * w).Select(i => (float)Math.Sin(i * 0.37 + rng.NextDouble())).ToArray();
    }

    [Test]
    public void EncoderMatchesTheFloat64Reference()
    {
        using var vq = VqganModel.Load(Dir.Value, new CpuBackend());
        var pixels = Image(32, 48);
        var codes = vq.Encode(new ModelInputImage(48, 32, pixels));
        Assert.That(codes, Has.Length.EqualTo(2 * 3));
        Assert.That(codes, Is.EqualTo(new NaiveVqgan(Dir.Value).Encode(pixels, 32, 48)));
    }

    [Test]
    public void DecoderMatchesTheFloat64Reference()
    {
        using var vq = VqganModel.Load(Dir.Value, new CpuBackend());
        int[] codes = [5, 8191, 0, 4000, 17, 17];
        var pixels = vq.Decode(codes, 2, 3);
        var expected = new NaiveVqgan(Dir.Value).Decode(codes, 2, 3);
        Assert.That(pixels, Has.Length.EqualTo(3 * 32 * 48));
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < pixels.Length; i++)
            Assert.That(pixels[i], Is.EqualTo(expected[i]).Within(1e-4 * (1 + scale)), $"pixel value {i}");
    }

    [Test]
    public void EncodeThenDecodeRunsAtGenerationSize()
    {
        using var vq = VqganModel.Load(Dir.Value, new CpuBackend());
        var codes = vq.Encode(new ModelInputImage(128, 128, Image(128, 128)));
        Assert.That(codes, Has.Length.EqualTo(64));
        Assert.That(codes, Is.All.InRange(0, 8191));
        var image = ImagePostprocessor.FromDecoderOutput(vq.Decode(codes, 8, 8), 128, 128);
        Assert.That(image.Width, Is.EqualTo(128));
        Assert.That(image.Pixels.Distinct().Count(), Is.GreaterThan(10), "the decoder's output is not constant");
    }

    [Test]
    public void MissingOrMisshapenWeightsAreNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => VqganModel.Load(TinyModels.NewTempDir("no-vqgan"), new CpuBackend()));
        Assert.That(e!.Message, Does.Contain("vqgan.safetensors").And.Contain("coar convert-vqgan"));
    }

    [Test]
    public void CodesOutsideTheCodebookAreRefused()
    {
        using var vq = VqganModel.Load(Dir.Value, new CpuBackend());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => vq.Decode([0, 8192, 1, 2], 2, 2));
        Assert.That(e!.Message, Does.Contain("8192"));
    }
}
