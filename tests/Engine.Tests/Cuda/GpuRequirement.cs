using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// CUDA tests run on a GPU, or on the CoAR CUDA stand-in where there is none (<see cref="CudaStandInSetup"/>), and say
/// which in their output; they are reported as skipped, with the reason, only where neither can be loaded.
/// </summary>
internal static class GpuRequirement
{
    public static CudaContext CreateContext()
    {
        EnsureDriver();
        if (CudaDriver.DeviceCount == 0)
            Assert.Ignore("The CUDA driver loaded but sees no device");
        return CudaContext.Create(0);
    }

    /// <summary>Fails when the stand-in was needed and could not be built; skips when no driver loads; names the driver.</summary>
    public static void EnsureDriver()
    {
        if (CudaStandInSetup.BuildFailure is { } failure)
            Assert.Fail(failure);
        if (!CudaDriver.TryLoad(out var reason))
            Assert.Ignore($"No CUDA GPU: {reason}");
        // The reason names the driver; the stand-in's says it is not a GPU.
        TestContext.Out.WriteLine($"CUDA driver: {reason}");
    }
}
