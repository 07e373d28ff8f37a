using CoAR.Engine.Conformance;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Conformance;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>The conformance machinery itself: it passes an exact backend and catches each kind of fault.</summary>
public class ConformanceHarnessTests
{
    private readonly CpuBackend _reference = new();
    private readonly CpuBackend _target = new();

    [Test]
    public void EveryCasePassesWhenTheTargetIsTheReferenceItself()
    {
        var failures = ConformanceSuite.AllCases().Select(c => ConformanceRunner.Run(c, _target, _reference)).Where(r => !r.Passed).ToList();
        Assert.That(failures, Is.Empty, string.Join("\n", failures));
    }

    private CaseResult RunFaulty(Action<CaseContext, Random, bool> run, double threshold = 1e-6) =>
        ConformanceRunner.Run(new OpCase("Fault", "test", (c, r) => run(c, r, ReferenceEquals(c.Backend, _target)), threshold), _target, _reference);

    [Test]
    public void AWriteOutsideTheOutputIsCaught()
    {
        var result = RunFaulty((c, r, faulty) =>
        {
            var y = c.Output("y", DType.F32, 4, 8);
            c.Backend.Upload<float>(new float[32], y);
            if (faulty) unsafe { ((float*)y.Address)[35] = 1f; } // 4 elements past the end, as a buggy kernel would
        });
        Assert.That(result.Passed, Is.False);
        Assert.That(result.Detail, Does.Contain("outside its bounds").And.Contain("offset 35"));
    }

    [Test]
    public void AnUnwrittenOutputElementIsCaughtByThePoison()
    {
        var result = RunFaulty((c, r, faulty) =>
        {
            var y = c.Output("y", DType.F32, 10);
            var values = Enumerable.Range(1, 10).Select(i => (float)i).ToArray();
            if (faulty) c.Backend.Upload<float>(values.AsSpan(0, 9), y.View([9]));
            else c.Backend.Upload<float>(values, y);
        });
        Assert.That(result.Passed, Is.False);
        Assert.That(result.Detail, Does.Contain("NaN/Inf").And.Contain("first at 9"));
    }

    [Test]
    public void AnInaccurateResultIsCaughtByTheThreshold()
    {
        var result = RunFaulty((c, r, faulty) =>
        {
            var values = CaseData.Uniform(r, 100);
            if (faulty) values[17] *= 1.01f;
            var y = c.Output("y", DType.F32, 100);
            c.Backend.Upload<float>(values, y);
        }, threshold: 1e-8);
        Assert.That(result.Passed, Is.False);
        Assert.That(result.Detail, Does.Contain("NMSE"));
    }

    [Test]
    public void AnOpThatThrowsFailsWithItsMessage()
    {
        var result = RunFaulty((c, r, faulty) =>
        {
            if (faulty) throw new InvalidOperationException("kernel launch failed");
            c.Output("y", DType.F32, 1);
            c.Backend.Upload<float>([1f], c.Output("z", DType.F32, 1));
        });
        Assert.That(result.Passed, Is.False);
        Assert.That(result.Detail, Does.Contain("kernel launch failed"));
    }
}
