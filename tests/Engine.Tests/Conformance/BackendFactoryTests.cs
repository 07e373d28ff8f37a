using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cuda;
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
            var selection = BackendFactory.Open("cuda");
            using var backend = selection.Backend;
            Assert.That(backend.Kind, Is.EqualTo(BackendKind.Cuda));
            Assert.That(backend.Name, Does.StartWith("cuda:0 "));
            Assert.That(selection.FallbackReason, Is.Null);
            Assert.That(selection.SelfTest, Is.Not.Null);
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
        if (CudaBackend.IsAvailable(0, out var reason))
            Assert.Ignore($"this machine has a CUDA device ({reason}): DeviceSelfTestTests covers auto's choice among devices");
        var selection = BackendFactory.Open("auto");
        using var backend = selection.Backend;
        Assert.That(backend.Kind, Is.EqualTo(BackendKind.Cpu));
        Assert.That(selection.FallbackReason, Is.EqualTo(reason));
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
