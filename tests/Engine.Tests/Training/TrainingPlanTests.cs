using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

public class TrainingPlanTests
{
    private static readonly ChameleonConfig SevenB = new()
    {
        HiddenSize = 4096, NumLayers = 32, NumHeads = 32, NumKvHeads = 32, IntermediateSize = 11008, VocabSize = 65536,
    };

    // A 768 training sequence: prompt (~20) + slots + 2357 image-phase tokens, with the plan's prompt budget.
    private const int Tokens768 = 2357 + 98;

    [Test]
    public void SevenBTrainingAt768KeepsEverythingOnAn80GbGpu()
    {
        long free = 80L * 1024 * 1024 * 1024 - 14_026_317_824L - (2L << 30); // after the bf16 weights and the CUDA context
        var plan = TrainingPlan.For(SevenB, Tokens768, DType.BF16, free, "cuda:0");
        Assert.That(plan.Mode, Is.EqualTo(ActivationMode.Keep));
        Assert.That(plan.KeepBytes + plan.KvCacheBytes, Is.LessThan(16L << 30), "activations + KV well under the 80 GB budget");
        TestContext.Out.WriteLine(plan);
    }

    [Test]
    public void TightMemoryFallsBackToRecomputation()
    {
        var plan = TrainingPlan.For(SevenB, Tokens768, DType.BF16, 6L << 30, "cuda:0");
        Assert.That(plan.Mode, Is.EqualTo(ActivationMode.Recompute));
        Assert.That(plan.RecomputeBytes, Is.LessThan(plan.KeepBytes / 5));
        Assert.That(plan.ToString(), Does.Contain("recomputed per layer"));
    }
}
