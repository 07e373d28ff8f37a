using CoAR.Engine.Conformance;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Managed.Conformance;
using CoAR.Engine.Managed.Cuda;
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
        if (!result.Passed)
            ReopenAfterAFault();
        Assert.That(result.Passed, Is.True, result.ToString());
    }

    /// <summary>
    /// A kernel fault leaves the context unusable (its error sticks, as on a GPU): the next case gets a new backend,
    /// so one faulting op fails its own case and not every case after it.
    /// </summary>
    private void ReopenAfterAFault()
    {
        try
        {
            _target!.Synchronize();
        }
        catch (CudaException)
        {
            try
            {
                _target!.Dispose();
            }
            catch (CudaException)
            {
                // The teardown's calls fail with the sticky error too; the primary context is released regardless.
            }
            _target = null;
        }
    }
}
