using CoAR.Engine.Managed.Backends.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>The CUDA backend for GPU tests, or the test reported as skipped with the reason it cannot be created.</summary>
internal static class CudaTestBackend
{
    public static CudaBackend CreateOrIgnore()
    {
        if (!CudaBackend.IsAvailable(0, out var reason))
            Assert.Ignore("no GPU: " + reason);
        return CudaBackend.Create(0);
    }
}
