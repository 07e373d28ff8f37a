using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Managed.Backends.SelfTest;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Tests.SelfTest;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>How a device name becomes a backend on this machine, with or without a usable GPU (the self-test's decisions: DeviceSelfTestTests).</summary>
public class BackendFactoryTests
{
    [Test]
    public void CudaOpensTheGpuOrSaysWhyNot()
    {
        if (CudaBackend.IsAvailable(0, out var reason))
        {
            // A kept result for this device's identity is what a named device reads (the run itself: CudaSelfTestTests).
            using var home = new TemporaryCoarHome();
            var identity = CudaBackend.IdentityOf(CudaDeviceInfo.Query(0), KernelCompilerOptions.FromEnvironment());
            var kept = new SelfTestResult(identity, DateTimeOffset.UtcNow, 1, [new SelfTestCheck("kept", true, "seeded by the test")]);
            SelfTestCache.Default().Save(kept);

            var selection = BackendFactory.Open("cuda");
            using var backend = selection.Backend;
            Assert.That(backend.Kind, Is.EqualTo(BackendKind.Cuda));
            Assert.That(backend.Name, Does.StartWith("cuda:0 "));
            Assert.That(selection.FallbackReason, Is.Null);
            Assert.That(selection.SelfTestRanNow, Is.False);
            Assert.That(selection.SelfTest!.Checks, Is.EqualTo(kept.Checks));
        }
        else
        {
            var error = Assert.Throws<DeviceUnavailableException>(() => BackendFactory.Open("cuda"))!;
            Assert.That(error.Message, Does.Contain("cuda:0").And.Contain(reason));
        }
    }

    [Test]
    public void AutoFallsBackToTheCpuWithTheReasonWhenThereIsNoGpu()
    {
        bool driver = CudaBackend.IsAvailable(0, out var reason);
        if (driver && !CudaStandIn.IsLoaded)
            Assert.Ignore($"this machine has a GPU ({reason}): DeviceSelfTestTests covers auto's choice among devices");
        var selection = BackendFactory.Open("auto");
        using var backend = selection.Backend;
        Assert.That(backend.Kind, Is.EqualTo(BackendKind.Cpu));
        Assert.That(selection.FallbackReason, driver
            ? Does.StartWith($"the CUDA driver is the CoAR stand-in ({CudaDriver.LibraryPath})").And.EndWith("auto uses only a GPU (--device cuda runs on it)")
            : Is.EqualTo(reason));
        Assert.That(selection.SelfTest, Is.Null);
    }

    [Test]
    public void AMissingDeviceNumberIsUnavailableAndAMalformedOneIsAnError()
    {
        Assert.Throws<DeviceUnavailableException>(() => BackendFactory.Open("cuda:4096"));
        Assert.That(() => BackendFactory.Open("cuda:x"), Throws.ArgumentException.With.Message.Contain("cuda:N"));
        Assert.That(() => BackendFactory.Open("tpu"), Throws.ArgumentException.With.Message.Contain("unknown device"));
    }

    [Test]
    public void CpuIsAlwaysThere()
    {
        var selection = BackendFactory.Open(" CPU ");
        using var backend = selection.Backend;
        Assert.That(backend.Kind, Is.EqualTo(BackendKind.Cpu));
        Assert.That(selection.FallbackReason, Is.Null);
        Assert.That(selection.SelfTest, Is.Null);
    }
}
