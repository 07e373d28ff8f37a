using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

public class ComputeCapabilityTests
{
    [TestCase("8.0", 80)]
    [TestCase("90", 90)]
    [TestCase("sm_86", 86)]
    [TestCase("compute_120", 120)]
    [TestCase("10.0", 100)]
    public void Parses(string text, int value) => Assert.That(ComputeCapability.Parse(text).Value, Is.EqualTo(value));

    [TestCase("")]
    [TestCase("sm_")]
    [TestCase("8.10")]
    [TestCase("8")]
    public void RejectsWithTheText(string text) =>
        Assert.That(() => ComputeCapability.Parse(text), Throws.InstanceOf<FormatException>().With.Message.Contain($"'{text}'"));

    [Test]
    public void NamesTheTargets()
    {
        var hopper = new ComputeCapability(9, 0);
        Assert.That((hopper.SmName, hopper.ComputeName, hopper.ToString()), Is.EqualTo(("sm_90", "compute_90", "9.0")));
    }

    [Test]
    public void AKnownDeviceGetsItsOwnCubin()
    {
        var supported = new[] { new ComputeCapability(8, 0), new ComputeCapability(8, 6), new ComputeCapability(9, 0) };
        Assert.That(KernelCompiler.ChooseTarget(new(9, 0), supported), Is.EqualTo((new ComputeCapability(9, 0), KernelTarget.Cubin)));
        Assert.That(KernelCompiler.ChooseTarget(new(12, 0), []), Is.EqualTo((new ComputeCapability(12, 0), KernelTarget.Cubin)),
            "an NVRTC that cannot list its architectures is trusted");
    }

    [Test]
    public void ADeviceNewerThanNvrtcGetsPtxForTheNewestOlderArchitecture()
    {
        var supported = new[] { new ComputeCapability(8, 0), new ComputeCapability(9, 0) };
        Assert.That(KernelCompiler.ChooseTarget(new(10, 0), supported), Is.EqualTo((new ComputeCapability(9, 0), KernelTarget.Ptx)));
        Assert.That(() => KernelCompiler.ChooseTarget(new(7, 0), supported),
            Throws.InstanceOf<NotSupportedException>().With.Message.Contain("sm_70"));
    }
}
