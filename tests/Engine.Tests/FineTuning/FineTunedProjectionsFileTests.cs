using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Training.GradientSequence;

namespace CoAR.Engine.Tests.FineTuning;

/// <summary>
/// The fine-tuned weights file: written as the checkpoint's own tensors (same names and shapes as in the base model's
/// safetensors, so a Hugging Face state dict takes it), read back to W + dW, and refused by name when it does not fit.
/// Also the weight-training checkpoint's chunked vectors.
/// </summary>
public class FineTunedProjectionsFileTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("coar-projections-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static WeightDeltas Deltas(ChameleonConfig c)
    {
        var deltas = WeightDeltas.Create(c, Projections.Qkv, [0, 2]);
        var rng = new Random(7);
        foreach (var d in deltas.All)
            for (int i = 0; i < d.Values.Length; i++) d.Values[i] = (float)(rng.NextDouble() - 0.5) * 0.01f;
        return deltas;
    }

    [Test]
    public void TheFileHoldsTheFineTunedWeightsUnderTheCheckpointsOwnNames()
    {
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(ModelDir, cpu);
        var deltas = Deltas(model.Config);
        string path = Path.Combine(_dir, FineTunedProjections.FileName);
        FineTunedProjections.Save(path, deltas, model, "base-fp", new Dictionary<string, string> { ["method"] = "personalar" });

        // Every tensor is one of the base checkpoint's, with its shape: a partial state dict of the same model.
        var baseTensors = Directory.GetFiles(ModelDir, "model*.safetensors").SelectMany(f =>
        {
            using var file = SafeTensorsFile.Open(f);
            return file.Tensors.Select(t => (t.Name, Shape: string.Join(",", t.Shape))).ToList();
        }).ToDictionary(t => t.Name, t => t.Shape);
        using (var file = SafeTensorsFile.Open(path))
        {
            Assert.That(file.Tensors.Select(t => t.Name), Is.EquivalentTo(deltas.All.Select(d => $"model.layers.{d.Layer}.{d.Projection.ModulePath()}.weight")));
            foreach (var t in file.Tensors)
            {
                Assert.That(baseTensors.GetValueOrDefault(t.Name), Is.EqualTo(string.Join(",", t.Shape)), $"{t.Name} is the base checkpoint's tensor");
                Assert.That(t.DType, Is.EqualTo(DType.F32));
            }
            Assert.That(file.Metadata["base_model"], Is.EqualTo("base-fp"));
            Assert.That(file.Metadata["method"], Is.EqualTo("personalar"));
        }

        var loaded = FineTunedProjections.Load(_dir);
        Assert.That(loaded.Path, Is.EqualTo(path), "a directory holding the file is read as the file");
        var combined = FineTunedProjections.Combine(model, deltas);
        foreach (var d in deltas.All)
        {
            var w = Managed.Backends.TensorReader.ReadFloats(cpu, model.Weights.Layers[d.Layer].Of(d.Projection));
            Assert.That(loaded.Values[(d.Layer, d.Projection)], Is.EqualTo(w.Zip(d.Values, (a, b) => a + b).ToArray()), $"{d.Layer} {d.Projection}: W + dW");
            Assert.That(combined.Values[(d.Layer, d.Projection)], Is.EqualTo(loaded.Values[(d.Layer, d.Projection)]));
        }
        Assert.DoesNotThrow(() => loaded.CheckFits(model.Config, "base-fp"));
        var other = Assert.Throws<InvalidDataException>(() => loaded.CheckFits(model.Config, "other-fp"))!;
        Assert.That(other.Message, Does.Contain("base-fp").And.Contain("other-fp"));
    }

    [Test]
    public void Bf16FilesAreReadToo()
    {
        string path = Path.Combine(_dir, "bf16.safetensors");
        var writer = new SafeTensorsWriter();
        var values = new float[] { 1, -2, 0.5f, 3 };
        var bits = values.Select(BFloat16.FromSingle).ToArray();
        writer.Add<ushort>("model.layers.0.self_attn.k_proj.weight", DType.BF16, [2, 2], bits);
        writer.WriteTo(path);
        Assert.That(FineTunedProjections.Load(path).Values[(0, Projection.K)], Is.EqualTo(values));
    }

    [TestCase("model.layers.0.self_attn.q_norm.weight", "F32", new long[] { 4, 4 }, "not a projection weight")]
    [TestCase("model.layers.x.self_attn.q_proj.weight", "F32", new long[] { 4, 4 }, "not a projection weight")]
    [TestCase("model.layers.0.mlp.q_proj.weight", "F32", new long[] { 4, 4 }, "not a projection weight")]
    [TestCase("model.layers.0.self_attn.q_proj.weight", "I32", new long[] { 4, 4 }, "expected a 2-d F32, BF16 or F16 weight")]
    [TestCase("model.layers.0.self_attn.q_proj.weight", "F32", new long[] { 16 }, "expected a 2-d F32, BF16 or F16 weight")]
    public void AFileThatIsNoProjectionWeightIsRefusedByName(string name, string dtype, long[] shape, string expected)
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        var writer = new SafeTensorsWriter();
        writer.Add(name, Enum.Parse<DType>(dtype), shape, new byte[16 * 4]);
        writer.WriteTo(path);
        var e = Assert.Throws<InvalidDataException>(() => FineTunedProjections.Load(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain(name).And.Contain(expected));
    }

    [Test]
    public void WeightsThatDoNotFitTheModelAreRefusedByTensor()
    {
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(ModelDir, cpu);
        var c = model.Config;
        string Write(string name, int rows, int cols)
        {
            string path = Path.Combine(_dir, $"{rows}x{cols}.safetensors");
            var writer = new SafeTensorsWriter();
            writer.Add<float>(name, DType.F32, [rows, cols], new float[rows * cols]);
            writer.WriteTo(path);
            return path;
        }

        var layer = Assert.Throws<InvalidDataException>(() =>
            FineTunedProjections.Apply(model, FineTunedProjections.Load(Write($"model.layers.{c.NumLayers}.self_attn.v_proj.weight", c.KvDim, c.HiddenSize)), "fp"))!;
        Assert.That(layer.Message, Does.Contain($"layer {c.NumLayers}").And.Contain($"{c.NumLayers} layers"));
        var shape = Assert.Throws<InvalidDataException>(() =>
            FineTunedProjections.Apply(model, FineTunedProjections.Load(Write("model.layers.1.mlp.up_proj.weight", c.HiddenSize, c.HiddenSize)), "fp"))!;
        Assert.That(shape.Message, Does.Contain("model.layers.1.mlp.up_proj.weight").And.Contain($"[{c.IntermediateSize}, {c.HiddenSize}]"));
        Assert.Throws<FileNotFoundException>(() => FineTunedProjections.Load(Path.Combine(_dir, "missing.safetensors")));
    }

    [TestCase(10, 3)]
    [TestCase(10, 10)]
    [TestCase(10, 64)]
    [TestCase(0, 4)]
    public void CheckpointVectorsRoundTripInChunks(int parameters, int chunk)
    {
        string path = Path.Combine(_dir, "state.safetensors");
        var values = Enumerable.Range(0, parameters).Select(i => i * 0.5f).ToArray();
        var m = values.Select(v => v + 1).ToArray();
        var v2 = values.Select(v => v * v).ToArray();
        ParameterCheckpoint.Write(path, values, "fp", 7, "{}", m, v2, chunk);
        var (readValues, readM, readV, step) = ParameterCheckpoint.Read(path, "fp", "{}", 100, parameters);
        Assert.That((readValues, readM, readV, step), Is.EqualTo((values, m, v2, 7)));
        var wrongSize = Assert.Throws<InvalidDataException>(() => ParameterCheckpoint.Read(path, "fp", "{}", 100, parameters + 1))!;
        Assert.That(wrongSize.Message, Does.Contain("--restart"));
        if (parameters > 0)
            Assert.Throws<InvalidDataException>(() => ParameterCheckpoint.Read(path, "fp", "{}", 100, parameters - 1));
    }
}
