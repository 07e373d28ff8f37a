using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Managed.Torch;
using CoAR.Engine.Tools.Vqgan;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

public class TinyVqganTests
{
    [Test]
    public void WeightsFollowTheLayoutAndKeepTheFullCodebook()
    {
        IReadOnlyList<CheckpointTensor> weights = TinyVqgan.CreateWeights(seed: 1);
        var layout = VqganWeightLayout.Expected(TinyVqgan.Config);
        Assert.That(weights.Select(w => w.Name), Is.EqualTo(layout.Select(s => s.Name)));
        Assert.That(weights.Select(w => w.Shape), Is.EqualTo(layout.Select(s => s.Shape)));
        Assert.That(weights.All(w => w.DType == DType.F32 && w.Data.Length == w.ElementCount * 4));
        Assert.That(weights.Single(w => w.Name == "quantize.embedding.weight").Shape, Is.EqualTo(new long[] { 8192, 8 }));
        Assert.That(TinyVqgan.Config.DownsampleFactor, Is.EqualTo(16));
    }

    [Test]
    public void TheSeedDecidesTheWeights()
    {
        var a = TinyVqgan.CreateWeights(seed: 5);
        var b = TinyVqgan.CreateWeights(seed: 5);
        var c = TinyVqgan.CreateWeights(seed: 6);
        Assert.That(a.Zip(b).All(p => p.First.Data.AsSpan().SequenceEqual(p.Second.Data)));
        Assert.That(a[0].Data, Is.Not.EqualTo(c[0].Data));
    }

    [Test]
    public void InitialisationScalesAreSensible()
    {
        var weights = TinyVqgan.CreateWeights(seed: 2).ToDictionary(w => w.Name, w => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(w.Data).ToArray());
        // conv: std 1/sqrt(fan_in); decoder.up.4.block.0.conv1 is [128, 128, 3, 3], fan_in 1152.
        float[] conv = weights["decoder.up.4.block.0.conv1.weight"];
        double std = Math.Sqrt(conv.Select(v => (double)v * v).Average());
        Assert.That(std, Is.EqualTo(1 / Math.Sqrt(1152)).Within(3).Percent);
        Assert.That(weights["encoder.norm_out.weight"].Average(), Is.EqualTo(1.0).Within(0.05));
        Assert.That(weights["encoder.norm_out.bias"].Select(Math.Abs).Max(), Is.LessThan(0.2));
        float[] codebook = weights["quantize.embedding.weight"];
        Assert.That(codebook.Select(v => (double)v * v).Average(), Is.EqualTo(1.0).Within(0.05));
    }

    [Test]
    public void WriteSavesTheWeightsAndTheConfig()
    {
        string dir = Directory.CreateTempSubdirectory("coar-tiny-vqgan-").FullName;
        try
        {
            TinyVqgan.Write(dir, seed: 3);
            using var file = CoAR.Engine.Managed.SafeTensors.SafeTensorsFile.Open(Path.Combine(dir, "vqgan.safetensors"));
            var expected = VqganWeightLayout.Expected(TinyVqgan.Config);
            Assert.That(file.Tensors.Select(t => t.Name), Is.EquivalentTo(expected.Select(s => s.Name)));
            var first = file.GetTensor(expected[0].Name);
            Assert.That(file.GetBytes(first).ToArray(), Is.EqualTo(TinyVqgan.CreateWeights(seed: 3)[0].Data), "same seed, same bytes");
            VqganConfig config = VqganConfig.Load(Path.Combine(dir, "vqgan.json"));
            Assert.That(config.ToJson(), Is.EqualTo(TinyVqgan.Config.ToJson()));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
