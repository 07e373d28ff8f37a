using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;
using static CoAR.Engine.Tests.Training.GradientSequence;

namespace CoAR.Engine.Tests.FineTuning;

/// <summary>
/// Full fine-tuning on the tiny model: the gradients of the weight changes through the whole model against finite
/// differences and against the weights' own gradients (ProjectionGradients), the changes run unmerged against the
/// fine-tuned weights put in place, and zero changes leaving the model as it was.
/// </summary>
public class DeltaProjectionsTests
{
    /// <summary>Changes on <paramref name="targets"/> of layers 0 and 1, drawn small and non-zero.</summary>
    private static WeightDeltas Deltas(ChameleonConfig c, Projection[] targets, int seed = 3)
    {
        var deltas = WeightDeltas.Create(c, targets, [0, 1]);
        var rng = new Random(seed);
        foreach (var d in deltas.All)
            for (int i = 0; i < d.Values.Length; i++) d.Values[i] = (float)(rng.NextDouble() * 2 - 1) * 0.02f;
        return deltas;
    }

    [TestCase(ActivationMode.Keep)]
    [TestCase(ActivationMode.Recompute)]
    public void GradientsOfTheChangesMatchFiniteDifferences(ActivationMode mode)
    {
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(ModelDir, cpu);
        using var trained = new TrainedWeights.Full(model, Deltas(model.Config, [Projection.Q, Projection.V, Projection.Down]));
        AssertWeightGradientsMatchFiniteDifferences(model, trained, mode, "weight changes", maxElements: 60);
    }

    [Test]
    public void TheGradientOfAChangeIsTheGradientOfTheWeight()
    {
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(ModelDir, cpu);
        var batch = PredictingBatch();
        var targets = TargetsOf(batch);
        int d = model.Config.HiddenSize;
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, Tokens.Length);
        using var dHidden = cpu.Allocate(DType.F32, [batch.LogitIndices.Length, d]);
        using var contextGrad = cpu.Allocate(DType.F32, [1, d]);

        void Pass()
        {
            using var saved = new TrainingActivations(cpu, model.Config, batch, ActivationMode.Keep);
            loss.Compute(model.ForwardHidden(batch, cache, save: saved), targets, 1f, null, 0f, dHidden);
            model.Backward(saved, cache, dHidden, contextGrad);
        }

        var zero = WeightDeltas.Create(model.Config, Projections.Qkv, [1]);
        using var changes = new DeltaProjections(cpu, zero, trainable: true);
        model.Adapter = changes;
        Pass();
        var ofChanges = new float[zero.Parameters];
        changes.DownloadGradients(ofChanges);

        using var weights = new ProjectionGradients(model, [1], Projections.Qkv);
        model.Adapter = weights;
        Pass();
        var ofWeights = Projections.Qkv.SelectMany(p => GradCheck.ReadDouble(cpu, weights[1, p])).ToArray();
        Assert.That(ofChanges.Select(v => Math.Abs(v)).Max(), Is.GreaterThan(1e-5f), "q/k/v of layer 1 influence the loss");
        TestData.AssertClose(ofChanges, ofWeights, 1e-5, "dL/d(dW) against dL/dW");
    }

    [Test]
    public void ChangesRunUnmergedGiveTheLogitsOfTheFineTunedWeights()
    {
        var cpu = new CpuBackend();
        string dir = ModelDir;
        using var unmergedModel = ChameleonModel.Load(dir, cpu);
        using var fineTunedModel = ChameleonModel.Load(dir, cpu);
        var deltas = Deltas(unmergedModel.Config, Projections.Qkv);
        using var device = new DeltaProjections(cpu, deltas);
        unmergedModel.Adapter = device;
        FineTunedProjections.Apply(fineTunedModel, FineTunedProjections.Combine(fineTunedModel, deltas), "any");
        Assert.That(fineTunedModel.Weights.Layers[1].Q.DType, Is.EqualTo(DType.F32), "a BF16 weight replaced on the CPU is kept in F32");

        var unmerged = Logits(unmergedModel);
        var fineTuned = Logits(fineTunedModel);
        using var plain = ChameleonModel.Load(dir, cpu);
        TestData.AssertClose(fineTuned, unmerged.Select(v => (double)v).ToArray(), 2e-4, "fine-tuned logits");
        Assert.That(unmerged.Zip(Logits(plain)).Max(p => Math.Abs(p.First - p.Second)), Is.GreaterThan(1e-3), "the changes change the logits");
    }

    [Test]
    public void ZeroChangesLeaveTheModelAsItWas()
    {
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(ModelDir, cpu);
        var before = Logits(model);
        var zero = WeightDeltas.Create(model.Config, Projections.Qkv, Enumerable.Range(0, 3));
        Assert.That(zero.Parameters, Is.EqualTo(3L * model.Config.HiddenSize * (model.Config.HiddenSize + 2 * model.Config.KvDim)));
        using var device = new DeltaProjections(cpu, zero);
        model.Adapter = device;
        Assert.That(Logits(model), Is.EqualTo(before), "dW = 0 adds exactly zero");
    }
}
