using System.CommandLine;
using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Managed.Backends.SelfTest;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Tests.Cli;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>`coar info` run in-process with its output captured; it must explain a machine without a GPU and exit 0.</summary>
public class InfoCommandTests
{
    private string cacheDirectory = "";
    private string? savedCache;

    [SetUp]
    public void PointTheCacheAtAnEmptyDirectory()
    {
        savedCache = Environment.GetEnvironmentVariable("COAR_KERNEL_CACHE");
        cacheDirectory = Directory.CreateTempSubdirectory("coar-info-").FullName;
        File.WriteAllBytes(Path.Combine(cacheDirectory, "x.sm_90.0123.cubin"), new byte[1000]);
        Environment.SetEnvironmentVariable("COAR_KERNEL_CACHE", cacheDirectory);
    }

    [TearDown]
    public void Restore()
    {
        Environment.SetEnvironmentVariable("COAR_KERNEL_CACHE", savedCache);
        Directory.Delete(cacheDirectory, recursive: true);
    }

    private static (int ExitCode, string Output) Run(params string[] args)
    {
        var output = new StringWriter();
        int exit = Program.BuildRoot().Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return (exit, output.ToString());
    }

    [Test]
    public void TextReportSaysWhyThereIsNoGpuAndThatTheCpuBackendIsUsed()
    {
        var (exit, output) = Run("info");
        Assert.That(exit, Is.Zero);
        Assert.That(output, Does.Contain("Kernel cache").And.Contain(cacheDirectory).And.Contain("1 files, 1000 bytes"));
        if (CudaDriver.TryLoad(out _))
        {
            Assert.That(output, Does.Contain("GPU 0").And.Contain("compute capability"));
            return;
        }
        Assert.That(output, Does.Contain("CUDA driver").And.Contain("not available"));
        Assert.That(output, Does.Contain("the CPU backend will be used"));
        Assert.That(output, Does.Contain("Why no GPU: libcuda (the NVIDIA driver library) was not found"));
        Assert.That(output, Does.Contain("/usr/lib/x86_64-linux-gnu/libcuda.so.1: no such file"));
        if (Nvrtc.TryLoad(out _))
            Assert.That(output, Does.Contain($"NVRTC").And.Contain(Nvrtc.Version.ToString()).And.Contain(Nvrtc.LibraryPath!));
    }

    /// <summary>
    /// In a `coar` process of its own whose COAR_LIBCUDA names no library, so no driver loads whatever this one has
    /// (the stand-in, a GPU's).
    /// </summary>
    [Test]
    public void WithoutAGpuTheSelfTestHasNothingToTestAndExits4()
    {
        string missing = Path.Combine(cacheDirectory, "no-libcuda.so.1");
        var (exit, output) = RunProcess(missing, "info", "--self-test");
        Assert.That(exit, Is.EqualTo(4), output);
        Assert.That(output, Does.Contain("Self-test: no GPU to test (why: below)").And.Contain("Why no GPU: libcuda (the NVIDIA driver library) was not found")
            .And.Contain($"{missing}: no such file"));
        Assert.That(output, Does.Contain("error: no GPU to self-test: libcuda (the NVIDIA driver library) was not found"));
        Assert.That(RunProcess(missing, "info").ExitCode, Is.Zero, "without --self-test a machine without a GPU is fine");
    }

    [Test]
    public void AnUnknownOptionIsAUsageError()
    {
        var (exit, output) = RunProcess(Path.Combine(cacheDirectory, "no-libcuda.so.1"), "info", "--self-tests");
        Assert.That(exit, Is.EqualTo(ExitCodes.Usage));
        Assert.That(output, Does.Contain("--self-tests"));
    }

    private (int ExitCode, string Output) RunProcess(string libcuda, params string[] args) =>
        CoarProcess.Run(new Dictionary<string, string> { ["COAR_LIBCUDA"] = libcuda, ["COAR_HOME"] = cacheDirectory }, args);

    [Test]
    public void JsonReportHasTheSameFacts()
    {
        var (exit, output) = Run("info", "--json");
        Assert.That(exit, Is.Zero);
        using var document = JsonDocument.Parse(output);
        var root = document.RootElement;

        bool cuda = CudaDriver.TryLoad(out var reason);
        Assert.That(root.GetProperty("cuda").GetProperty("available").GetBoolean(), Is.EqualTo(cuda));
        Assert.That(root.GetProperty("cuda").GetProperty("reason").GetString(), Is.EqualTo(reason));
        Assert.That(root.GetProperty("kernelCache").GetProperty("directory").GetString(), Is.EqualTo(cacheDirectory));
        Assert.That(root.GetProperty("kernelCache").GetProperty("files").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("kernelCache").GetProperty("bytes").GetInt64(), Is.EqualTo(1000));
        Assert.That(root.GetProperty("nvrtc").GetProperty("available").GetBoolean(), Is.EqualTo(Nvrtc.TryLoad(out _)));
        Assert.That(root.GetProperty("selfTestDirectory").GetString(), Is.EqualTo(SelfTestCache.Default().Directory));
        if (!cuda)
        {
            Assert.That(root.GetProperty("backend").GetString(), Is.EqualTo("cpu"));
            Assert.That(root.GetProperty("cuda").GetProperty("devices").GetArrayLength(), Is.Zero);
        }
        else
        {
            Assert.That(root.GetProperty("cuda").GetProperty("devices").GetArrayLength(), Is.EqualTo(CudaDriver.DeviceCount));
        }
    }
}
