using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Model;

/// <summary>A checkpoint that does not match its config is refused with a message naming the tensor, expected vs found.</summary>
public class CheckpointValidationTests
{
    private static readonly ModelShape Shape = TinyModels.Small;

    /// <summary>Writes a single-file checkpoint of the small shape with one tensor changed by <paramref name="tamper"/>.</summary>
    private static string Tampered(Func<PendingTensor, PendingTensor?> tamper)
    {
        string dir = TinyModels.NewTempDir("tampered");
        CheckpointMaker.WriteConfigFiles(dir, Shape);
        var writer = new SafeTensorsWriter();
        foreach (var t in CheckpointMaker.Tensors(Shape, WeightFill.Zeros, 1))
            if (tamper(t) is { } kept) writer.Add(kept);
        writer.WriteTo(Path.Combine(dir, "model.safetensors"));
        return dir;
    }

    private static ModelFormatException Refused(string dir) =>
        Assert.Throws<ModelFormatException>(() => ChameleonModel.Load(dir, new CpuBackend()).Dispose())!;

    [Test]
    public void UntamperedSingleFileCheckpointLoads()
    {
        using var model = ChameleonModel.Load(Tampered(t => t), new CpuBackend());
        Assert.That(model.Config.NumLayers, Is.EqualTo(Shape.Layers));
    }

    /// <summary>The small checkpoint with config.json's num_hidden_layers set to <paramref name="layers"/>.</summary>
    private static string WithLayerCount(int layers)
    {
        string dir = Tampered(t => t);
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        config["num_hidden_layers"] = layers;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        return dir;
    }

    [Test]
    public void LayersTheConfigDoesNotUseAreReportedNotIgnored()
    {
        var e = Refused(WithLayerCount(Shape.Layers - 1));
        Assert.That(e.Message, Does.Contain($"holds layers {Shape.Layers - 1} to {Shape.Layers - 1}")
            .And.Contain($"'model.layers.{Shape.Layers - 1}.").And.Contain($"num_hidden_layers={Shape.Layers - 1} does not use"));
    }

    [Test]
    public void AConfigClaimingMoreLayersThanTheCheckpointHoldsIsRefusedAtOnce()
    {
        var e = Refused(WithLayerCount(1000));
        Assert.That(e.Message, Does.Contain($"num_hidden_layers=1000, but the checkpoint holds tensors for {Shape.Layers} layer(s)"));
        Assert.That(e.Message, Does.Contain("(1 problem)"), "one clear problem, not a thousand missing tensors");
    }

    [Test]
    public void MissingTensorIsNamed()
    {
        var e = Refused(Tampered(t => t.Name == "model.layers.1.mlp.up_proj.weight" ? null : t));
        Assert.That(e.Message, Does.Contain("'model.layers.1.mlp.up_proj.weight' is missing").And.Contain("BF16[176, 64]"));
    }

    [Test]
    public void WrongShapeIsNamedWithExpectedAndFound()
    {
        var e = Refused(Tampered(t => t.Name == "model.layers.0.self_attn.k_proj.weight"
            ? PendingTensor.Streamed(t.Name, DType.BF16, [64, 32], null) : t));
        Assert.That(e.Message, Does.Contain("'model.layers.0.self_attn.k_proj.weight'").And.Contain("model.safetensors")
            .And.Contain("shape [64, 32], expected [64, 64]"));
    }

    [Test]
    public void QkNormRowsThatDoNotDivideTheHeadsAreRefused()
    {
        var e = Refused(Tampered(t => t.Name == "model.layers.0.self_attn.q_norm.weight"
            ? PendingTensor.Streamed(t.Name, DType.BF16, [3, 16], null) : t));
        Assert.That(e.Message, Does.Contain("q_norm.weight").And.Contain("shape [3, 16]").And.Contain("G (dividing 4)"));
    }

    [Test]
    public void WrongDTypeIsNamedWithExpectedAndFound()
    {
        var e = Refused(Tampered(t => t.Name == "model.norm.weight"
            ? PendingTensor.Streamed(t.Name, DType.F32, t.Shape.ToArray(), null) : t));
        Assert.That(e.Message, Does.Contain("'model.norm.weight'").And.Contain("dtype F32, expected BF16").And.Contain("torch_dtype=bfloat16"));
    }

    [Test]
    public void EveryProblemIsListed()
    {
        var e = Refused(Tampered(t => t.Name is "lm_head.weight" or "model.embed_tokens.weight" ? null : t));
        Assert.That(e.Message, Does.Contain("2 problems").And.Contain("lm_head.weight").And.Contain("model.embed_tokens.weight"));
    }
}
