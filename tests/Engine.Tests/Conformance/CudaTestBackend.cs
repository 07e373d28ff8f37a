using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Tests.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>
/// The CUDA backend for GPU tests: on a GPU, or on the CoAR CUDA stand-in where there is none (the test output says
/// which); the test is reported as skipped, with the reason, only where neither is there.
/// </summary>
internal static class CudaTestBackend
{
    public static CudaBackend CreateOrIgnore()
    {
        GpuRequirement.EnsureDriver();
        if (!CudaBackend.IsAvailable(0, out var reason))
            Assert.Ignore("no GPU: " + reason);
        return CudaBackend.Create(0);
    }
}
