using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>GPU tests run where a driver and a device exist and are reported as skipped, with the reason, elsewhere.</summary>
internal static class GpuRequirement
{
    public static CudaContext CreateContext()
    {
        if (!CudaDriver.TryLoad(out var reason))
            Assert.Ignore($"No CUDA GPU: {reason}");
        if (CudaDriver.DeviceCount == 0)
            Assert.Ignore("The CUDA driver loaded but sees no device");
        return CudaContext.Create(0);
    }
}
