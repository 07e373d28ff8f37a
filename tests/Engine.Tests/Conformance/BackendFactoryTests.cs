using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>How a device name becomes a backend, on machines with and without a usable GPU.</summary>
public class BackendFactoryTests
{
    [Test]
    public void CudaOpensTheGpuOrSaysWhyNot()
    {
        if (CudaBackend.IsAvailable(0, out var reason))
        {
            using var backend = BackendFactory.Create("cuda", out var fallback);
            Assert.That(backend.Kind, Is.EqualTo(BackendKind.Cuda));
            Assert.That(backend.Name, Does.StartWith("cuda:0 "));
            Assert.That(fallback, Is.Null);
        }
        else
        {
            var error = Assert.Throws<DeviceUnavailableException>(() => BackendFactory.Create("cuda", out _))!;
            Assert.That(error.Message, Does.Contain("cuda:0").And.Contain(reason));
        }
    }

    [Test]
    public void AutoFallsBackToTheCpuWithTheReason()
    {
        bool gpu = CudaBackend.IsAvailable(0, out var reason);
        using var backend = BackendFactory.Create("auto", out var fallback);
        Assert.That(backend.Kind, Is.EqualTo(gpu ? BackendKind.Cuda : BackendKind.Cpu));
        Assert.That(fallback, gpu ? Is.Null : Is.EqualTo(reason));
    }

    [Test]
    public void AMissingDeviceNumberIsUnavailableAndAMalformedOneIsAnError()
    {
        Assert.Throws<DeviceUnavailableException>(() => BackendFactory.Create("cuda:4096", out _));
        Assert.That(() => BackendFactory.Create("cuda:x", out _), Throws.ArgumentException.With.Message.Contain("cuda:N"));
        Assert.That(() => BackendFactory.Create("tpu", out _), Throws.ArgumentException.With.Message.Contain("unknown device"));
    }

    [Test]
    public void CpuIsAlwaysThere()
    {
        using var backend = BackendFactory.Create(" CPU ", out var fallback);
        Assert.That(backend.Kind, Is.EqualTo(BackendKind.Cpu));
        Assert.That(fallback, Is.Null);
    }
}
