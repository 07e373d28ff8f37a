using CoAR.Engine.Cli;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Interop;
using CoAR.Engine.Tests.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>Error messages and hints, which must make sense without a GPU to reproduce them on.</summary>
public class CudaErrorTests
{
    [Test]
    public void TheMessageNamesTheCallTheErrorTheKernelAndTheModule()
    {
        var error = new CudaException("cuLaunchKernel", 701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch",
            "rmsnorm_fwd_bf16", "norms.cu", CudaErrorHints.For(CuResult.LaunchOutOfResources));

        Assert.That(error.Message, Does.StartWith("cuLaunchKernel failed (kernel rmsnorm_fwd_bf16 in module norms.cu): CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: too many resources"));
        Assert.That(error.Message, Does.Contain("register use"));
        Assert.That(error.ErrorCode, Is.EqualTo(701));
    }

    [Test]
    public void OutOfMemorySaysRequestedAgainstFree()
    {
        var hint = CudaErrorHints.OutOfMemory("DeviceBuffer<Single>[1073741824]", 4L << 30, 512UL << 20, 80UL << 30);
        Assert.That(hint, Does.Contain("Requested 4.00 GiB (4294967296 bytes) for DeviceBuffer<Single>[1073741824]"));
        Assert.That(hint, Does.Contain("512.00 MiB free of 80.00 GiB"));
    }

    [TestCase(209, TestName = "NoBinaryForGpu")]
    [TestCase(218, TestName = "InvalidPtx")]
    [TestCase(222, TestName = "UnsupportedPtxVersion")]
    public void ImageErrorsPointAtTheArchitectureAndDriver(int code)
    {
        Assert.That(CudaErrorHints.For((CuResult)code), Does.Contain("architecture").And.Contain("driver").And.Contain("COAR_NVRTC"));
        Assert.That(CudaErrorHints.ImageMismatch("CUBIN for sm_90 from NVRTC 12.4"), Does.Contain("(CUBIN for sm_90 from NVRTC 12.4)"));
    }

    [TestCase(100, "GPU", TestName = "NoDevice")]
    [TestCase(35, "update the driver", TestName = "InsufficientDriver")]
    [TestCase(3, "CudaDriver.TryLoad", TestName = "NotInitialized")]
    [TestCase(34, "stub", TestName = "StubLibrary")]
    public void DriverErrorsPointAtTheDriver(int code, string expected)
    {
        Assert.That(CudaErrorHints.For((CuResult)code), Does.Contain(expected));
    }

    [Test]
    public void AnUnknownCodeHasNoHint() => Assert.That(CudaErrorHints.For((CuResult)12345), Is.Null);

    /// <summary>In a `coar` process of its own whose COAR_LIBCUDA names no library, so no driver loads whatever this one has.</summary>
    [Test]
    public void WithoutADriverAskingForCudaIsRefusedWithTheReason()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"coar-no-libcuda-{Guid.NewGuid():N}.so.1");
        var (exit, output) = CoarProcess.Run(new Dictionary<string, string> { ["COAR_LIBCUDA"] = missing },
            "generate", "--model", TinyModels.Cuda, "--prompt", "a red apple", "--size", "32", "--device", "cuda", "--out", TinyModels.NewTempDir("no-driver"));
        Assert.That(exit, Is.EqualTo(ExitCodes.DeviceUnavailable), output);
        // The console wraps long lines.
        output = string.Join(' ', output.Split((char[])[' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));
        Assert.That(output, Does.Contain("cuda:0").And.Contain("libcuda (the NVIDIA driver library) was not found").And.Contain($"{missing}: no such file"));
    }
}
