using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Managed.Torch;
using CoAR.Engine.Tools.Vqgan;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Torch;

public class VqganConverterTests
{
    private static readonly string[] LossKeys =
        ["loss.logvar", "loss.perceptual_loss.net.slice1.0.weight", "loss.discriminator.main.0.weight"];

    private string _dir = "";
    private IReadOnlyList<CheckpointTensor>? _written;
    private string? _writtenPath;

    [SetUp]
    public void Reset()
    {
        _dir = Directory.CreateTempSubdirectory("coar-vqgan-").FullName;
        (_written, _writtenPath) = (null, null);
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dir, recursive: true);

    /// <summary>Converts through the real safetensors writer and reads back what landed on disk.</summary>
    private VqganConversion Convert(string ckpt, string? yaml, string outDir)
    {
        var result = VqganConverter.Convert(ckpt, yaml, outDir);
        _writtenPath = Path.Combine(outDir, VqganConverter.WeightsFileName);
        using var file = SafeTensorsFile.Open(_writtenPath);
        _written = file.Tensors.Select(t => new CheckpointTensor(t.Name, t.DType, t.Shape, file.GetBytes(t).ToArray())).ToList();
        return result;
    }

    /// <summary>
    /// A Lightning checkpoint of the tiny VQGAN: the codebook stored as BF16, the decoder's conv_out as F16, the rest
    /// F32, plus loss.* tensors and training counters. Returns the checkpoint path and the expected F32 values.
    /// </summary>
    private (string Path, Dictionary<string, float[]> Expected) WriteCheckpoint(
        Func<CheckpointTensor, CheckpointTensor?>? edit = null, string prefix = "", bool lightning = true)
    {
        var expected = new Dictionary<string, float[]>();
        var items = new List<(object, object?)>();
        foreach (CheckpointTensor original in TinyVqgan.CreateWeights(seed: 11))
        {
            CheckpointTensor? tensor = edit is null ? original : edit(original);
            if (tensor is null)
                continue;
            float[] values = MemoryMarshal.Cast<byte, float>(tensor.Data).ToArray();
            FakeStorage storage;
            if (tensor.Name == "quantize.embedding.weight")
            {
                ushort[] bits = values.Select(BFloat16.FromSingle).ToArray();
                storage = new FakeStorage("BFloat16Storage", DType.BF16, GoldenPickle.Bytes(bits));
                values = bits.Select(BFloat16.ToSingle).ToArray();
            }
            else if (tensor.Name == "decoder.conv_out.weight")
            {
                Half[] halves = values.Select(v => (Half)v).ToArray();
                storage = new FakeStorage("HalfStorage", DType.F16, GoldenPickle.Bytes(halves));
                values = halves.Select(h => (float)h).ToArray();
            }
            else
                storage = new FakeStorage("FloatStorage", DType.F32, tensor.Data);
            expected[tensor.Name] = values;
            items.Add((prefix + tensor.Name, FakeTensor.Contiguous(storage, tensor.Shape)));
        }
        foreach (string key in LossKeys)
            items.Add((key, FakeTensor.Contiguous(new FakeStorage("FloatStorage", DType.F32, new byte[8]), 2)));

        var stateDict = new PyOrderedDict(items.ToArray());
        object root = lightning
            ? new PyDict(("epoch", 3), ("global_step", 1200), ("state_dict", stateDict), ("optimizer_states", new List<object?>()))
            : stateDict;
        string path = Path.Combine(_dir, "vqgan.ckpt");
        TorchZipWriter.Save(path, root);
        return (path, expected);
    }

    private string WriteYaml()
    {
        string path = Path.Combine(_dir, "vqgan.yaml");
        File.WriteAllText(path, VqganYamlTests.TinyYaml);
        return path;
    }

    [Test]
    public void ConvertsEveryWeightToF32UnderTheSpecNames()
    {
        var (ckpt, expected) = WriteCheckpoint();
        string yaml = WriteYaml();
        string outDir = Path.Combine(_dir, "out");

        VqganConversion result = Convert(ckpt, yaml, outDir);

        var layout = VqganWeightLayout.Expected(TinyVqgan.Config);
        Assert.That(_writtenPath, Is.EqualTo(Path.Combine(outDir, "vqgan.safetensors")));
        Assert.That(_written!.Select(t => t.Name), Is.EqualTo(layout.Select(s => s.Name)));
        foreach (CheckpointTensor tensor in _written!)
        {
            Assert.That(tensor.DType, Is.EqualTo(DType.F32), tensor.Name);
            Assert.That(MemoryMarshal.Cast<byte, float>(tensor.Data).ToArray(), Is.EqualTo(expected[tensor.Name]), tensor.Name);
        }
        Assert.That(result.TensorCount, Is.EqualTo(layout.Count));
        Assert.That(result.ParameterCount, Is.EqualTo(layout.Sum(s => s.Shape.Aggregate(1L, (n, d) => n * d))));
        Assert.That(result.SourceDTypes, Is.EquivalentTo(new Dictionary<DType, int>
            { [DType.F32] = layout.Count - 2, [DType.BF16] = 1, [DType.F16] = 1 }));
        Assert.That(result.SkippedLossKeys, Is.EqualTo(LossKeys));
        Assert.That(result.SkippedEntries.Select(e => e.Name), Is.EqualTo(new[] { "epoch", "global_step", "optimizer_states" }));
        Assert.That(VqganConfig.Load(Path.Combine(outDir, "vqgan.json")).ToJson(), Is.EqualTo(TinyVqgan.Config.ToJson()));
    }

    [Test]
    public void AHuggingFacePrefixAndAPlainStateDictAreAccepted()
    {
        var (ckpt, _) = WriteCheckpoint(prefix: "model.vqmodel.", lightning: false);
        WriteYaml(); // beside the checkpoint, where a null yaml path looks
        VqganConversion result = Convert(ckpt, null, Path.Combine(_dir, "out"));
        Assert.That(result.TensorCount, Is.EqualTo(VqganWeightLayout.Expected(TinyVqgan.Config).Count));
        Assert.That(_written![0].Name, Is.EqualTo("encoder.conv_in.weight"));
    }

    [Test]
    public void AMissingKeyIsNamed()
    {
        var (ckpt, _) = WriteCheckpoint(t => t.Name == "decoder.up.2.block.1.conv1.bias" ? null : t);
        var e = Assert.Throws<InvalidDataException>(() => VqganConverter.Convert(ckpt, WriteYaml(), _dir));
        Assert.That(e!.Message, Does.EndWith("missing tensor decoder.up.2.block.1.conv1.bias [64]"));
        Assert.That(_written, Is.Null, "nothing is written when the check fails");
    }

    [Test]
    public void AMisshapenKeyIsNamed()
    {
        var (ckpt, _) = WriteCheckpoint(t => t.Name == "quant_conv.weight" ? t with { Shape = [8, 4, 2, 1] } : t);
        var e = Assert.Throws<InvalidDataException>(() => VqganConverter.Convert(ckpt, WriteYaml(), _dir));
        Assert.That(e!.Message, Does.EndWith("tensor quant_conv.weight is [8,4,2,1], expected [8,8,1,1] for the yaml's config"));
    }

    [Test]
    public void KeysTheConfigDoesNotHaveAreAnError()
    {
        var (ckpt, _) = WriteCheckpoint(t => t.Name == "encoder.conv_in.bias" ? t with { Name = "encoder.down.0.attn.0.q.bias" } : t);
        var e = Assert.Throws<InvalidDataException>(() => VqganConverter.Convert(ckpt, WriteYaml(), _dir));
        Assert.That(e!.Message, Does.Contain("not part of the VQGAN the yaml describes").And.Contain("encoder.down.0.attn.0.q.bias"));
    }

    [Test]
    public void AMissingYamlSaysHowToPassIt()
    {
        var (ckpt, _) = WriteCheckpoint();
        var e = Assert.Throws<FileNotFoundException>(() => VqganConverter.Convert(ckpt, null, _dir));
        Assert.That(e!.Message, Does.Contain("vqgan.yaml").And.Contain("--yaml"));
    }
}
