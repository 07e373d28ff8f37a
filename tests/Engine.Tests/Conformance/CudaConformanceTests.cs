using CoAR.Engine.Conformance;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Managed.Conformance;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>Every conformance case with the CUDA backend as the target and the CPU backend as the reference.</summary>
[NonParallelizable]
public class CudaConformanceTests
{
    private readonly CpuBackend _reference = new();
    private CudaBackend? _target;

    private static IEnumerable<TestCaseData> Cases() =>
        ConformanceSuite.AllCases().Select(c => new TestCaseData(c).SetName($"Cuda {c.Name}"));

    [OneTimeTearDown]
    public void TearDown() => _target?.Dispose();

    [TestCaseSource(nameof(Cases))]
    public void MatchesTheCpuReference(OpCase c)
    {
        _target ??= CudaTestBackend.CreateOrIgnore();
        var result = ConformanceRunner.Run(c, _target, _reference);
        Assert.That(result.Passed, Is.True, result.ToString());
    }
}
