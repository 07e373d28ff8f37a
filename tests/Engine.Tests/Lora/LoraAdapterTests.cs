using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;
using static CoAR.Engine.Tests.Training.GradientSequence;

namespace CoAR.Engine.Tests.Lora;

/// <summary>
/// LoRA on the tiny model: the gradients of A and B through the whole model against finite differences, unmerged
/// against merged, and a fresh adapter (B = 0) leaving the model as it was.
/// </summary>
public class LoraAdapterTests
{
    /// <summary>An adapter on every given projection of layers 0 and 1 with B drawn too (a fresh B = 0 would give dA = 0).</summary>
    private static LoraAdapter Adapter(ChameleonConfig c, Projection[] targets, int rank = 3, float alpha = 6, int seed = 5)
    {
        var adapter = LoraAdapter.Create(c, rank, alpha, targets, [0, 1], seed);
        var rng = new Random(seed + 1);
        foreach (var p in adapter.Pairs)
            for (int i = 0; i < p.B.Length; i++) p.B[i] = (float)(rng.NextDouble() * 2 - 1) * 0.05f;
        return adapter;
    }

    [TestCase(ActivationMode.Keep)]
    [TestCase(ActivationMode.Recompute)]
    public void GradientsOfAAndBMatchFiniteDifferences(ActivationMode mode)
    {
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(ModelDir, cpu);
        using var trained = new TrainedWeights.Lora(model, Adapter(model.Config, Projections.All));
        AssertWeightGradientsMatchFiniteDifferences(model, trained, mode, "LoRA A and B", maxElements: 80);
    }

    [Test]
    public void MergedWeightsGiveTheUnmergedLogits()
    {
        var cpu = new CpuBackend();
        string dir = ModelDir;
        using var unmergedModel = ChameleonModel.Load(dir, cpu);
        using var mergedModel = ChameleonModel.Load(dir, cpu);
        var adapter = Adapter(unmergedModel.Config, Projections.Qkv, rank: 4, alpha: 8);
        using var lora = new LoraProjections(cpu, [adapter]);
        unmergedModel.Adapter = lora;
        LoraMerge.Into(mergedModel, adapter);
        Assert.That(mergedModel.Weights.Layers[1].Q.DType, Is.EqualTo(DType.F32), "a BF16 weight merged on the CPU is kept in F32");

        var unmerged = Logits(unmergedModel);
        var merged = Logits(mergedModel);
        using var plain = ChameleonModel.Load(dir, cpu);
        var basis = Logits(plain);
        TestData.AssertClose(merged, unmerged.Select(v => (double)v).ToArray(), 2e-4, "merged logits");
        Assert.That(unmerged.Zip(basis).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-3), "the adapter changes the logits");
    }

    [Test]
    public void AFreshAdapterLeavesTheModelAsItWas()
    {
        var cpu = new CpuBackend();
        string dir = ModelDir;
        using var model = ChameleonModel.Load(dir, cpu);
        var before = Logits(model);
        var adapter = LoraAdapter.Create(model.Config, 8, 16, Projections.Qkv, Enumerable.Range(0, 3), seed: 1);
        Assert.That(adapter.Parameters, Is.EqualTo(3L * 8 * (2 * model.Config.HiddenSize + 2 * (model.Config.HiddenSize + model.Config.KvDim))));
        using var lora = new LoraProjections(cpu, [adapter]);
        model.Adapter = lora;
        Assert.That(Logits(model), Is.EqualTo(before), "B = 0: the low-rank term is exactly zero");
    }
}
