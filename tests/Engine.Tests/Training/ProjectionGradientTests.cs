using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;
using static CoAR.Engine.Tests.Training.GradientSequence;

namespace CoAR.Engine.Tests.Training;

/// <summary>
/// The whole-model gradients of the projections' weights (ProjectionGradients through ChameleonModel.Backward) against
/// finite differences of the loss, on a tiny model whose adapted weights are swapped for F32 copies so they can be
/// nudged finely.
/// </summary>
public class ProjectionGradientTests
{
    [TestCase(ActivationMode.Keep, Projection.Q)]
    [TestCase(ActivationMode.Keep, Projection.K)]
    [TestCase(ActivationMode.Recompute, Projection.V)]
    [TestCase(ActivationMode.Keep, Projection.O)]
    [TestCase(ActivationMode.Recompute, Projection.Gate)]
    [TestCase(ActivationMode.Keep, Projection.Up)]
    [TestCase(ActivationMode.Keep, Projection.Down)]
    public void WeightGradientOfTheModelMatchesFiniteDifferences(ActivationMode mode, Projection projection)
    {
        string dir = ModelDir;
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(dir, cpu);
        const int layer = 1;
        var w0 = ToF32(cpu, model, layer, projection);
        var weight = model.Weights.Layers[layer].Of(projection);
        var batch = PredictingBatch();
        var targets = TargetsOf(batch);
        int d = model.Config.HiddenSize;
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, Tokens.Length);
        using var dHidden = cpu.Allocate(DType.F32, [batch.LogitIndices.Length, d]);
        using var contextGrad = cpu.Allocate(DType.F32, [1, d]);
        using var grads = new ProjectionGradients(model, [layer], [projection]);
        model.Adapter = grads;

        double Loss(double[] values)
        {
            GradCheck.Load(cpu, weight, values);
            var hidden = model.ForwardHidden(batch, cache);
            return loss.Compute(hidden, targets, 1f, null, 0f, dHidden).CrossEntropy;
        }

        using var saved = new TrainingActivations(cpu, model.Config, batch, mode);
        GradCheck.Load(cpu, weight, w0);
        var h = model.ForwardHidden(batch, cache, save: saved);
        loss.Compute(h, targets, 1f, null, 0f, dHidden);
        model.Backward(saved, cache, dHidden, contextGrad);
        var analytic = GradCheck.ReadDouble(cpu, grads[layer, projection]);
        Assert.That(analytic.Max(Math.Abs), Is.GreaterThan(1e-5), $"{projection} of layer {layer} influences the loss");

        GradCheck.AssertMatches($"layer {layer} {projection.ModulePath()} ({mode})", w0, Loss, analytic,
            // Weights are small (rms ~ 1/sqrt(fan-in)): a step of their own size keeps the loss change above fp32 rounding.
            new GradCheck.Options { MaxElements = 40, RelativeStep = 1, RelativeTolerance = 3e-2, ScaleTolerance = 3e-3 });
    }

    [Test]
    public void GradientsAccumulateOverPassesUntilZeroed()
    {
        string dir = ModelDir;
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(dir, cpu);
        var batch = ForwardBatch.Single(Tokens) with { LogitIndices = [10, 11, 12] };
        var targets = TargetsOf(batch);
        int d = model.Config.HiddenSize;
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, Tokens.Length);
        using var dHidden = cpu.Allocate(DType.F32, [3, d]);
        using var contextGrad = cpu.Allocate(DType.F32, [1, d]);
        using var grads = new ProjectionGradients(model, [0, 2], Projections.Qkv);
        model.Adapter = grads;
        Assert.That(grads.Adapts(0, Projection.Q) && grads.Adapts(2, Projection.V) && !grads.Adapts(1, Projection.Q) && !grads.Adapts(0, Projection.O));

        double[] Pass()
        {
            using var saved = new TrainingActivations(cpu, model.Config, batch, ActivationMode.Keep);
            loss.Compute(model.ForwardHidden(batch, cache, save: saved), targets, 1f, null, 0f, dHidden);
            model.Backward(saved, cache, dHidden, contextGrad);
            return GradCheck.ReadDouble(cpu, grads[2, Projection.K]);
        }

        var once = Pass();
        var twice = Pass();
        for (int i = 0; i < once.Length; i++) Assert.That(twice[i], Is.EqualTo(2 * once[i]).Within(1e-6 + 1e-5 * Math.Abs(once[i])));
        grads.Zero();
        Assert.That(GradCheck.ReadDouble(cpu, grads[2, Projection.K]).All(v => v == 0));
    }

    /// <summary>Swaps a projection's BF16 weight for an exact F32 copy and returns its values.</summary>
    private static double[] ToF32(CpuBackend cpu, ChameleonModel model, int layer, Projection p)
    {
        var w = model.Weights.Layers[layer].Of(p);
        var bits = new ushort[w.ElementCount];
        cpu.Download<ushort>(w, bits);
        var values = bits.Select(u => (double)BitConverter.Int32BitsToSingle(u << 16)).ToArray();
        model.Weights.Replace(layer, p, GradCheck.NewTensor(cpu, values, w.Dim(0), w.Dim(1)));
        return values;
    }
}
