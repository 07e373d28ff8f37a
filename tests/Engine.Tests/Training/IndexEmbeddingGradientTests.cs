using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;
using static CoAR.Engine.Tests.Training.GradientSequence;

namespace CoAR.Engine.Tests.Training;

/// <summary>Additive injections (token-index embeddings) through the whole model: the forward adds, the backward matches finite differences.</summary>
public class IndexEmbeddingGradientTests
{
    /// <summary>
    /// A text slot at token 3 (rows 0-1, depth 2), an image slot at token 6 (row 2), and an index vector (row 3) added at
    /// layer 0 to the slot tokens and to plain tokens 4 and 9: the added vector on a slot sits on top of its replacement.
    /// </summary>
    private static ForwardBatch Batch()
    {
        return PredictingBatch() with
        {
            Injections =
            [
                new ContextInjection(3, 0, 1, 2), new ContextInjection(6, 2, 1, 1),
                .. new[] { 3, 4, 6, 9 }.Select(t => new ContextInjection(t, 3, 0, 1) { Add = true }),
            ],
        };
    }

    [TestCase(ActivationMode.Keep)]
    [TestCase(ActivationMode.Recompute)]
    public void TheIndexVectorGradientMatchesFiniteDifferences(ActivationMode mode)
    {
        string dir = ModelDir;
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(dir, cpu);
        int d = model.Config.HiddenSize;
        var batch = Batch();
        var targets = TargetsOf(batch);
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, Tokens.Length);
        var rng = new Random(5);
        var table0 = Enumerable.Range(0, 4 * d).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        using var table = GradCheck.NewTensor(cpu, table0, 4, d);
        using var dHidden = cpu.Allocate(DType.F32, [batch.LogitIndices.Length, d]);

        double Loss(double[] values)
        {
            GradCheck.Load(cpu, table, values);
            return loss.Compute(model.ForwardHidden(batch, cache, contextTable: table), targets, 1f, null, 0f, dHidden).CrossEntropy;
        }

        GradCheck.Load(cpu, table, table0);
        using var saved = new TrainingActivations(cpu, model.Config, batch, mode);
        loss.Compute(model.ForwardHidden(batch, cache, contextTable: table, save: saved), targets, 1f, null, 0f, dHidden);
        using var grad = cpu.Allocate(DType.F32, [4, d]);
        cpu.Zero(grad);
        model.Backward(saved, cache, dHidden, grad);
        var analytic = GradCheck.ReadDouble(cpu, grad);
        Assert.That(analytic.Skip(3 * d).Max(Math.Abs), Is.GreaterThan(1e-4), "the index vector influences the loss");

        var options = new GradCheck.Options { MaxElements = 40, RelativeTolerance = 3e-2, ScaleTolerance = 3e-3 };
        GradCheck.AssertMatches($"context table with an index vector ({mode})", table0, Loss, analytic, options);
        // The index row on its own (the sample above may take few of its elements).
        var slots = table0[..(3 * d)];
        GradCheck.AssertMatches($"index vector ({mode})", table0[(3 * d)..], row => Loss([.. slots, .. row]), analytic[(3 * d)..], options);
    }

    [Test]
    public void AnAddedVectorIsTheEmbeddingPlusTheVector()
    {
        // Adding v at layer 0 to token 4 gives the hidden states of replacing it with (embedding of token 4) + v.
        string dir = ModelDir;
        var cpu = new CpuBackend();
        using var model = ChameleonModel.Load(dir, cpu);
        int d = model.Config.HiddenSize;
        var embedding = Managed.Backends.TensorReader.ReadFloats(cpu, model.Weights.Embedding);
        var v = Enumerable.Range(0, d).Select(j => Math.Cos(j) * 0.5).ToArray();
        using var added = GradCheck.NewTensor(cpu, v, 1, d);
        using var replaced = GradCheck.NewTensor(cpu, v.Select((x, j) => x + embedding[Tokens[4] * d + j]).ToArray(), 1, d);
        using var cache = model.CreateCache(1, Tokens.Length);
        var plain = ForwardBatch.Single(Tokens) with { LogitIndices = Enumerable.Range(0, Tokens.Length).ToArray() };
        var a = GradCheck.ReadDouble(cpu, model.ForwardHidden(plain with { Injections = [new ContextInjection(4, 0, 0, 1) { Add = true }] }, cache, contextTable: added));
        var r = GradCheck.ReadDouble(cpu, model.ForwardHidden(plain with { Injections = [new ContextInjection(4, 0, 0, 1)] }, cache, contextTable: replaced));
        Assert.That(a.Zip(r, (x, y) => Math.Abs(x - y)).Max(), Is.LessThan(1e-4));
    }
}
