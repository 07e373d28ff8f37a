using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;
using static CoAR.Engine.Tests.Training.GradientSequence;

namespace CoAR.Engine.Tests.Training;

/// <summary>The whole-model gradient of context tokens against finite differences on a tiny model.</summary>
public class ContextGradientTests
{
    /// <summary>A text slot at token 3 (depth 2) and an image slot at token 6 (depth 1): table rows 0-1 and 2.</summary>
    private static ForwardBatch Batch(int[] tags)
    {
        return PredictingBatch() with
        {
            Tags = tags,
            Injections = [new ContextInjection(3, 0, 1, 2), new ContextInjection(6, 2, 1, 1)],
        };
    }

    [TestCase(ActivationMode.Keep, false)]
    [TestCase(ActivationMode.Recompute, true)]
    public void ContextTokenGradientMatchesFiniteDifferences(ActivationMode mode, bool identityTags)
    {
        string dir = ModelDir;
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(dir, cpu);
        int d = model.Config.HiddenSize;
        var tags = new int[Tokens.Length];
        if (identityTags) (tags[3], tags[6]) = (1, 1);
        var batch = Batch(tags);
        var targets = TargetsOf(batch);
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, Tokens.Length);
        var rng = new Random(3);
        var table0 = Enumerable.Range(0, 3 * d).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        using var table = GradCheck.NewTensor(cpu, table0, 3, d);
        using var dHidden = cpu.Allocate(DType.F32, [batch.LogitIndices.Length, d]);

        double Loss(double[] values)
        {
            GradCheck.Load(cpu, table, values);
            var hidden = model.ForwardHidden(batch, cache, contextTable: table);
            return loss.Compute(hidden, targets, 1f, null, 0f, dHidden).CrossEntropy;
        }

        // Analytic: forward with saved activations, output loss, backward into the table gradient.
        GradCheck.Load(cpu, table, table0);
        using var saved = new TrainingActivations(cpu, model.Config, batch, mode);
        var h = model.ForwardHidden(batch, cache, contextTable: table, save: saved);
        loss.Compute(h, targets, 1f, null, 0f, dHidden);
        using var grad = cpu.Allocate(DType.F32, [3, d]);
        cpu.Zero(grad);
        model.Backward(saved, cache, dHidden, grad);
        var analytic = GradCheck.ReadDouble(cpu, grad);
        Assert.That(analytic.Max(Math.Abs), Is.GreaterThan(1e-4), "the context tokens influence the loss");

        GradCheck.AssertMatches($"context table ({mode})", table0, Loss, analytic,
            new GradCheck.Options { MaxElements = 60, RelativeTolerance = 3e-2, ScaleTolerance = 3e-3 });
    }

    [Test]
    public void NoInjectionsMeansNoContextGradient()
    {
        string dir = ModelDir;
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(dir, cpu);
        var batch = Batch(new int[Tokens.Length]) with { Injections = [] };
        using var cache = model.CreateCache(1, Tokens.Length);
        using var saved = new TrainingActivations(cpu, model.Config, batch, ActivationMode.Keep);
        using var table = cpu.Allocate(DType.F32, [3, model.Config.HiddenSize]);
        cpu.Zero(table);
        var h = model.ForwardHidden(batch, cache, contextTable: table, save: saved);
        using var loss = new OutputLoss(model);
        using var dHidden = cpu.Allocate(DType.F32, [batch.LogitIndices.Length, model.Config.HiddenSize]);
        loss.Compute(h, TargetsOf(batch), 1f, null, 0f, dHidden);
        using var grad = cpu.Allocate(DType.F32, [3, model.Config.HiddenSize]);
        cpu.Zero(grad);
        model.Backward(saved, cache, dHidden, grad);
        Assert.That(GradCheck.ReadDouble(cpu, grad).All(g => g == 0), Is.True);
    }

    [Test]
    public void TrainingForwardGivesTheInferenceHiddenStates()
    {
        string dir = ModelDir;
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(dir, cpu);
        var batch = Batch(new int[Tokens.Length]);
        using var table = GradCheck.NewTensor(cpu, Enumerable.Range(0, 3 * model.Config.HiddenSize).Select(i => Math.Sin(i)).ToArray(), 3, model.Config.HiddenSize);
        using var cache = model.CreateCache(1, Tokens.Length);
        var plain = GradCheck.ReadDouble(cpu, model.ForwardHidden(batch, cache, contextTable: table));
        foreach (var mode in new[] { ActivationMode.Keep, ActivationMode.Recompute })
        {
            using var saved = new TrainingActivations(cpu, model.Config, batch, mode);
            var kept = GradCheck.ReadDouble(cpu, model.ForwardHidden(batch, cache, contextTable: table, save: saved));
            Assert.That(kept, Is.EqualTo(plain), $"{mode} forward");
        }
    }
}
