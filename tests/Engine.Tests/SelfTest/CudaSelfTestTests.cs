using System.Text.Json;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Managed.Backends.SelfTest;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Tests.Cli;
using CoAR.Engine.Tests.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.SelfTest;

/// <summary>
/// The self-test end to end on this machine's CUDA driver: a GPU, or the CoAR CUDA stand-in where there is none
/// (CudaStandInSetup). `coar info --self-test` runs it once for the fixture (about 20 s on the stand-in), in a
/// COAR_HOME of its own; the tests then read what it kept.
/// </summary>
[NonParallelizable]
public class CudaSelfTestTests
{
    private TemporaryCoarHome? _home;
    private (int ExitCode, string Output, string Error) _run;

    [OneTimeSetUp]
    public void RunTheSelfTestOnce()
    {
        GpuRequirement.EnsureDriver();
        _home = new TemporaryCoarHome();
        _run = CliHarness.Run("info", "--self-test");
    }

    [OneTimeTearDown]
    public void RestoreCoarHome() => _home?.Dispose();

    private static DeviceIdentity Identity => CudaBackend.IdentityOf(CudaDeviceInfo.Query(0), KernelCompilerOptions.FromEnvironment());

    [Test, Order(1)]
    public void InfoSelfTestRunsEveryCheckAndKeepsTheResult()
    {
        var (exit, output, _) = _run;
        int checks = KernelSourceSet.Embedded.KernelFiles.Count + DeviceSelfTest.Cases.Count;
        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("GPU 0 self-test").And.Contain($"passed {checks} checks in"));
        foreach (var file in KernelSourceSet.Embedded.KernelFiles)
            Assert.That(output, Does.Contain($"ok   kernels {file}: "));
        foreach (var c in DeviceSelfTest.Cases)
            Assert.That(output, Does.Contain($"ok   {c.Name}: "));

        var kept = SelfTestCache.Default().TryLoad(Identity);
        Assert.That(kept, Is.Not.Null, $"kept in {SelfTestCache.Default().PathFor(Identity)}");
        Assert.That(kept!.Passed, Is.True);
        Assert.That(kept.Checks, Has.Count.EqualTo(checks));

        var (again, info, _) = CliHarness.Run("info");
        Assert.That(again, Is.Zero);
        Assert.That(info, Does.Contain($"passed {checks} checks in").And.Contain(SelfTestCache.Default().PathFor(Identity)));
        Assert.That(info, Does.Not.Contain("ok   kernels"), "a kept pass is one line; --self-test lists the checks");
    }

    [Test, Order(2)]
    public void ANamedDeviceUsesTheKeptResult()
    {
        var selection = BackendFactory.Open("cuda");
        using (selection.Backend)
        {
            Assert.That(selection.Backend.Kind, Is.EqualTo(BackendKind.Cuda));
            Assert.That(selection.SelfTestRanNow, Is.False);
            Assert.That(selection.SelfTest!.Passed, Is.True);
            Assert.That(selection.Warning, Is.Null);
        }
    }

    [Test, Order(3)]
    public void AutoNeverChoosesTheStandIn()
    {
        if (!CudaStandIn.IsLoaded)
            Assert.Ignore("a GPU's driver is loaded here: auto uses the GPU once it passed (DeviceSelfTestTests)");
        var selection = BackendFactory.Open("auto");
        using (selection.Backend)
        {
            Assert.That(selection.Backend.Kind, Is.EqualTo(BackendKind.Cpu));
            Assert.That(selection.FallbackReason, Does.Contain("CoAR stand-in").And.EndWith("auto uses only a GPU (--device cuda runs on it)"));
        }
        var (_, info, _) = CliHarness.Run("info");
        Assert.That(info, Does.Contain("CPU: no usable CUDA GPU").And.Contain("Why no GPU: the CUDA driver is the CoAR stand-in"));
    }

    [Test, Order(4)]
    public void AFailedResultIsShownByInfoAndMakesANamedDeviceWarn()
    {
        var failed = new SelfTestResult(Identity, DateTimeOffset.UtcNow, 2,
        [
            new SelfTestCheck("kernels rows.cu", true, "loaded"),
            new SelfTestCheck("MatMul(M=64,K=128,N=256)", false, "y: NMSE 3.10E-001 > 5.0E-004"),
        ]);
        SelfTestCache.Default().Save(failed);

        var selection = BackendFactory.Open("cuda");
        using (selection.Backend)
        {
            Assert.That(selection.SelfTestRanNow, Is.False);
            Assert.That(selection.Warning, Does.Contain("failed its self-test on this machine (1 of 2 checks failed (MatMul(M=64,K=128,N=256): y: NMSE"));
        }

        var (exit, info, _) = CliHarness.Run("info");
        Assert.That(exit, Is.Zero);
        Assert.That(info, Does.Contain("FAILED, ").And.Contain("1 of 2 checks failed").And.Contain("`--device auto` does not use")
            .And.Contain("FAIL MatMul(M=64,K=128,N=256): y: NMSE 3.10E-001 > 5.0E-004"));
        var (_, json, _) = CliHarness.Run("info", "--json");
        var selfTest = JsonDocument.Parse(json).RootElement.GetProperty("cuda").GetProperty("devices")[0].GetProperty("selfTest");
        Assert.That(selfTest.GetProperty("passed").GetBoolean(), Is.False);
        Assert.That(selfTest.GetProperty("checks").GetArrayLength(), Is.EqualTo(2));
    }
}
