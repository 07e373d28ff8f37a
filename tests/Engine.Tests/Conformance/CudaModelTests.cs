using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Conformance;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>The tiny model end to end on the CUDA backend: logits against the CPU's, and image-token generation.</summary>
[NonParallelizable]
public class CudaModelTests
{
    // bf16 activations through three layers against fp32 ones; a wrong kernel gives an NMSE near 1.
    private const double LogitNmse = 2e-3;

    [Test]
    public void TinyModelLogitsMatchTheCpuForPrefillAndADecodeStep()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        using var cpuModel = ChameleonModel.Load(TinyModels.Default, new CpuBackend());
        using var cudaModel = ChameleonModel.Load(TinyModels.Default, cuda);
        using var cpuCache = cpuModel.CreateCache(2, 16);
        using var cudaCache = cudaModel.CreateCache(2, 16);

        var prefill = ForwardBatch.Packed([[0, 8900, 8950, 8990, 8710, 8197], [0, 8901, 8710]]);
        AssertClose(Logits(cpuModel, prefill, cpuCache), Logits(cudaModel, prefill, cudaCache), "prefill");

        var step = ForwardBatch.Packed([[8804], [8805]], starts: [6, 3]);
        AssertClose(Logits(cpuModel, step, cpuCache), Logits(cudaModel, step, cudaCache), "decode step");
    }

    [Test]
    public void ImageTokensGeneratedOnTheGpuAreStructurallyValid()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        using var model = ChameleonModel.Load(TinyModels.Default, cuda);
        var layout = ImageLayout.For(64, 64);
        var request = new ImageTokenRequest([0, 8900, 8950, 8990, 8710], layout, 3, new SamplingSettings(4f, 2000, 1f));

        var tokens = new ImageTokenGenerator(model).Generate([request])[0].Tokens;

        Assert.That(tokens, Has.Length.EqualTo(layout.SequenceLength));
        Assert.That(tokens[..3], Is.EqualTo(layout.Header), "start, height, width");
        int lw = layout.LatentWidth, lh = layout.LatentHeight;
        for (int row = 0; row < lh; row++)
        {
            for (int x = 0; x < lw; x++)
                Assert.That(tokens[3 + row * (lw + 1) + x], Is.InRange(4, 8195), $"code at row {row} col {x}");
            Assert.That(tokens[3 + row * (lw + 1) + lw], Is.EqualTo(8803), $"new line ending row {row}");
        }
        Assert.That(tokens[^2..], Is.EqualTo(new[] { 8196, 8710 }), "end of image, end of turn");
    }

    private static float[] Logits(ChameleonModel model, ForwardBatch batch, KvCache cache)
    {
        var logits = model.Forward(batch, cache);
        var host = new float[logits.ElementCount];
        model.Backend.Download<float>(logits, host);
        return host;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        Assert.That(actual.All(float.IsFinite), Is.True, $"{what}: NaN or Inf in the CUDA logits");
        Assert.That(ConformanceRunner.Nmse(expected, actual), Is.LessThan(LogitNmse), what);
    }
}
