using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Interop;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

public class NativeLibraryProbeTests
{
    private string directory = "";

    [SetUp]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("coar-probe-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    private static Func<string, string?> Environment(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    /// <summary>
    /// The engine's libcuda probe as it searches a machine without a driver (a probe of its own: the engine's keeps
    /// the driver this process loaded, the CUDA stand-in where the tests run on one).
    /// </summary>
    [Test]
    public void WithoutADriverTryLoadSaysWhyAndWhereItLooked()
    {
        var probe = new NativeLibraryProbe("libcuda", "the NVIDIA driver library", "COAR_TEST_UNSET_VARIABLE", "cuInit",
            () => NativeLibraryCandidates.ForLibcuda(Environment()));
        if (probe.TryLoad(out _))
            Assert.Ignore($"A CUDA driver is installed here ({probe.LoadedPath}); the no-driver path cannot be observed");

        var reason = probe.FailureReason();
        Assert.That(reason, Does.StartWith("libcuda (the NVIDIA driver library) was not found"));
        Assert.That(reason, Does.Contain("set COAR_TEST_UNSET_VARIABLE to its full path"));
        Assert.That(reason, Does.Contain("libcuda.so.1 (system search path)"));
        Assert.That(reason, Does.Contain("/usr/lib/x86_64-linux-gnu/libcuda.so.1: no such file"));
        Assert.That(reason, Does.Contain("/usr/local/cuda/compat/libcuda.so.1"));
        Assert.That(probe.Trace, Has.Count.GreaterThan(10));
        Assert.That(probe.LoadedPath, Is.Null);
    }

    [Test]
    public void NvrtcLoadsIndependentlyOfTheDriverAndRecordsItsPath()
    {
        NvrtcRequirement.EnsureLoaded();
        Assert.That(Nvrtc.TryLoad(out var reason), Is.True);
        Assert.That(Nvrtc.LibraryPath, Is.Not.Null);
        Assert.That(reason, Does.Contain(Nvrtc.LibraryPath!).And.Contain($"NVRTC {Nvrtc.Version}"));
        Assert.That(Nvrtc.ProbeTrace[^1], Does.Contain(": loaded"));
        Assert.That(Path.IsPathRooted(Nvrtc.LibraryPath), Is.True, "a soname found by the system search is resolved to its file");
        Assert.That(File.Exists(Nvrtc.LibraryPath), Is.True);
        Assert.That(Nvrtc.Version.Major, Is.InRange(11, 13));
    }

    [Test]
    public void AnOverrideIsTheOnlyPathTriedAndItsFailureNamesTheVariable()
    {
        var missing = Path.Combine(directory, "libnvrtc.so.99");
        var candidates = NativeLibraryCandidates.ForNvrtc(Environment(("COAR_NVRTC", missing), ("LD_LIBRARY_PATH", "/opt/elsewhere")));
        Assert.That(candidates, Is.EqualTo(new[] { missing }));

        var probe = new NativeLibraryProbe("libnvrtc", "the CUDA run-time compiler", "COAR_TEST_UNSET_VARIABLE", "nvrtcVersion", () => candidates);
        Assert.That(probe.TryLoad(out var handle), Is.False);
        Assert.That(handle, Is.EqualTo(nint.Zero));
        Assert.That(probe.FailureReason(), Does.Contain($"{missing}: no such file").And.Contain("COAR_TEST_UNSET_VARIABLE"));
    }

    [Test]
    public void AFileTheLoaderRejectsIsTracedWithTheLoadersError()
    {
        var fake = Path.Combine(directory, "libnvrtc.so.12");
        File.WriteAllText(fake, "not ELF");
        var probe = new NativeLibraryProbe("libnvrtc", "the CUDA run-time compiler", "COAR_NVRTC", "nvrtcVersion", () => NativeLibraryCandidates.NvrtcFilesIn(directory).ToList());

        Assert.That(probe.TryLoad(out _), Is.False);
        var line = probe.Trace.Single(t => t.StartsWith(fake + ":", StringComparison.Ordinal));
        Assert.That(line, Is.EqualTo($"{fake}: file too short"), "the loader's own words follow the path");
    }

    [Test]
    public void VersionedNvrtcFilesAreTriedNewestFirst()
    {
        foreach (var name in new[] { "libnvrtc.so.11.2", "libnvrtc.so.12", "libnvrtc.so.12.4.99", "libnvrtc.so.13", "libnvrtc-builtins.so.12" })
            File.WriteAllText(Path.Combine(directory, name), "");

        var names = NativeLibraryCandidates.NvrtcFilesIn(directory).Select(Path.GetFileName);
        Assert.That(names, Is.EqualTo(new[] { "libnvrtc.so.13", "libnvrtc.so.12.4.99", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so" }));
    }

    [Test]
    public void CandidatesCoverTheSystemSearchLdLibraryPathAndTheUsualDirectories()
    {
        var env = Environment(("LD_LIBRARY_PATH", "/opt/a:/opt/b"));
        var cuda = NativeLibraryCandidates.ForLibcuda(env);
        Assert.That(cuda.Take(2), Is.EqualTo(new[] { "libcuda.so.1", "libcuda.so" }));
        Assert.That(cuda, Does.Contain("/opt/a/libcuda.so.1").And.Contain("/opt/b/libcuda.so.1")
            .And.Contain("/usr/local/nvidia/lib64/libcuda.so.1").And.Contain("/usr/lib64/libcuda.so.1"));

        var nvrtc = NativeLibraryCandidates.ForNvrtc(env);
        Assert.That(nvrtc.Take(3), Is.EqualTo(new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2" }));
        Assert.That(nvrtc, Does.Contain("/opt/a/libnvrtc.so.*").And.Contain("/usr/local/cuda/lib64/libnvrtc.so.*"));
        Assert.That(nvrtc, Is.Unique);
    }

    [Test]
    public void SonameVersionsParse()
    {
        Assert.That(NativeLibraryCandidates.SonameVersion("libnvrtc.so.12.4.99"), Is.EqualTo(new[] { 12, 4, 99 }));
        Assert.That(NativeLibraryCandidates.SonameVersion("libnvrtc.so"), Is.Empty);
    }
}
