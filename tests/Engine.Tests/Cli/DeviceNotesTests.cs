using CoAR.Engine.Cli;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Backends.SelfTest;
using CoAR.Engine.Tests.SelfTest;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>What every model command says on stderr about the device it got (DeviceOption.Report).</summary>
public class DeviceNotesTests
{
    private static readonly DeviceIdentity Identity = new("Test Double GPU", "9.0", "12.4", "NVRTC 12.4", "5a1e", "e4b1");

    private static readonly SelfTestResult Passed = new(Identity, DateTimeOffset.UnixEpoch, 2.5,
        [new SelfTestCheck("kernels rows.cu", true, "built"), new SelfTestCheck("MatMul(M=1,K=64,N=33)", true, "y: NMSE 1.00E-06")]);

    private static readonly SelfTestResult Failed = new(Identity, DateTimeOffset.UnixEpoch, 2.5,
        [new SelfTestCheck("kernels rows.cu", true, "built"), new SelfTestCheck("MatMul(M=1,K=64,N=33)", false, "y: NMSE 1.00E+00 > 5.0E-004")]);

    private static string Report(BackendSelection selection)
    {
        var saved = Console.Error;
        var error = new StringWriter();
        try
        {
            Console.SetError(error);
            DeviceOption.Report(selection);
        }
        finally
        {
            Console.SetError(saved);
            selection.Backend.Dispose();
        }
        return error.ToString();
    }

    [Test]
    public void AFallbackSaysWhyAndWhereToLook()
    {
        Assert.That(Report(new BackendSelection(new CpuBackend(), "libcuda (the NVIDIA driver library) was not found; tried /usr/lib/libcuda.so.1")),
            Is.EqualTo($"note: running on the CPU backend (libcuda (the NVIDIA driver library) was not found; `coar info` says more){Environment.NewLine}"));
    }

    [Test]
    public void AFallbackForAFailedSelfTestSaysHowToSeeAndRerunIt()
    {
        string why = $"cuda:0 Test Double GPU failed its self-test ({Failed.Summary}); {BackendSelection.SelfTestHelp}";
        string said = Report(new BackendSelection(new CpuBackend(), why, Failed));
        Assert.That(said, Is.EqualTo($"note: running on the CPU backend (cuda:0 Test Double GPU failed its self-test (1 of 2 checks failed " +
            $"(MatMul(M=1,K=64,N=33): y: NMSE 1.00E+00 > 5.0E-004)); `coar info` shows the details, `coar info --self-test` runs it again){Environment.NewLine}"));
    }

    [Test]
    public void ANamedGpuThatFailedIsAWarning()
    {
        string said = Report(new BackendSelection(new GpuDouble(faulty: false), null, Failed));
        Assert.That(said, Does.StartWith("warning: cuda:0 Test Double GPU failed its self-test on this machine (1 of 2 checks failed")
            .And.Contain("its results may be wrong"));
        Assert.That(said, Does.Not.Contain("note:"));
    }

    [Test]
    public void AFirstUseSelfTestIsNotedOnceAndAKeptPassIsSilent()
    {
        Assert.That(Report(new BackendSelection(new GpuDouble(faulty: false), null, Passed, SelfTestRanNow: true)),
            Is.EqualTo($"note: cuda:0 Test Double GPU passed 2 checks in 2.5 s of its self-test (its first use here); `coar info` shows it{Environment.NewLine}"));
        Assert.That(Report(new BackendSelection(new GpuDouble(faulty: false), null, Passed)), Is.Empty);
        Assert.That(Report(new BackendSelection(new GpuDouble(faulty: false), null, Passed, SelfTestRanNow: true, "the self-test result could not be kept in /x: denied")),
            Does.EndWith($"note: the self-test result could not be kept in /x: denied; it will run again next time{Environment.NewLine}"));
    }
}
