using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.SelfTest;
using NUnit.Framework;

namespace CoAR.Engine.Tests.SelfTest;

/// <summary>
/// How `--device auto` and `--device cuda` treat a GPU by its self-test, with a test double for the GPU (the decisions
/// do not depend on what the device is): the self-test runs on first use and is kept, a failure sends auto to the
/// CPU with a note and makes a named GPU warn, and any change of the identity runs it again.
/// </summary>
public class DeviceSelfTestTests
{
    private string _directory = "";

    [SetUp]
    public void CreateCacheDirectory() => _directory = Directory.CreateTempSubdirectory("coar-self-test-").FullName;

    [TearDown]
    public void DeleteCacheDirectory() => Directory.Delete(_directory, recursive: true);

    private SelfTestCache Cache => new(Path.Combine(_directory, "self-test"));

    private static DeviceIdentity Identity(string driver = "12.4 (/usr/lib/x86_64-linux-gnu/libcuda.so.1)") =>
        new("Test Double GPU", "9.0", driver, "NVRTC 12.4 -std=c++17", "5a1e", "e4b1");

    [Test]
    public void AutoUsesAGpuThatPassesOnFirstUseAndKeepsTheResult()
    {
        var gpus = new GpuDoubleDevices(faulty: false, Identity());

        var first = BackendFactory.Open("auto", gpus, Cache);
        using (first.Backend)
        {
            Assert.That(first.Backend, Is.SameAs(gpus.Opened[0]));
            Assert.That(first.FallbackReason, Is.Null);
            Assert.That(first.Warning, Is.Null);
            Assert.That(first.SelfTestRanNow, Is.True);
            Assert.That(first.SelfTest!.Passed, Is.True, string.Join("\n", first.SelfTest.Checks));
            Assert.That(first.SelfTest.Checks.Select(c => c.Name),
                Is.EqualTo(new[] { "kernels" }.Concat(DeviceSelfTest.Cases.Select(c => c.Name))));
        }
        Assert.That(File.Exists(Cache.PathFor(Identity())), Is.True);

        var second = BackendFactory.Open("auto", gpus, Cache);
        using (second.Backend)
        {
            Assert.That(second.Backend, Is.SameAs(gpus.Opened[1]));
            Assert.That(second.SelfTestRanNow, Is.False);
            Assert.That(second.SelfTest, Is.EqualTo(first.SelfTest).Using<SelfTestResult>(SameResult));
        }
        Assert.That(gpus.SelfTests, Is.EqualTo(1), "the kept result is used");
    }

    [Test]
    public void AutoFallsBackToTheCpuWithANoteWhenTheSelfTestFails()
    {
        var gpus = new GpuDoubleDevices(faulty: true, Identity());

        foreach (bool firstUse in new[] { true, false })
        {
            var selection = BackendFactory.Open("auto", gpus, Cache);
            using (selection.Backend)
            {
                Assert.That(selection.Backend.Kind, Is.EqualTo(BackendKind.Cpu));
                Assert.That(gpus.Opened[^1].Disposed, Is.True, "the failed GPU is closed");
                Assert.That(selection.SelfTestRanNow, Is.EqualTo(firstUse));
                Assert.That(selection.Warning, Is.Null);
                Assert.That(selection.FallbackReason, Does.StartWith("cuda:0 Test Double GPU failed its self-test (2 of 9 checks failed (MatMul(M=1,K=64,N=33): y: "));
                Assert.That(selection.FallbackReason, Does.EndWith("`coar info` shows the details, `coar info --self-test` runs it again"));
            }
        }
        Assert.That(gpus.SelfTests, Is.EqualTo(1), "a kept failure is not rerun on every start");
        var kept = Cache.TryLoad(Identity())!;
        Assert.That(kept.Passed, Is.False);
        Assert.That(kept.Failures.Select(f => f.Name), Is.EqualTo(new[] { "MatMul(M=1,K=64,N=33)", "MatMul(M=64,K=128,N=256)" }));
    }

    [Test]
    public void ANamedGpuRunsDespiteAFailedSelfTestButWarns()
    {
        var gpus = new GpuDoubleDevices(faulty: true, Identity());

        var selection = BackendFactory.Open("cuda", gpus, Cache);
        using (selection.Backend)
        {
            Assert.That(selection.Backend, Is.SameAs(gpus.Opened[0]));
            Assert.That(gpus.Opened[0].Disposed, Is.False);
            Assert.That(selection.FallbackReason, Is.Null);
            Assert.That(selection.Warning, Does.StartWith("cuda:0 Test Double GPU failed its self-test on this machine (2 of 9 checks failed (")
                .And.Contain("its results may be wrong; `coar info` shows the details, `coar info --self-test` runs it again"));
        }
        Assert.That(() => BackendFactory.Open("cuda:1", gpus, Cache), Throws.InstanceOf<DeviceUnavailableException>().With.Message.Contain("cuda:1"));
    }

    [Test]
    public void AnUnavailableGpuFallsBackBeforeAnySelfTest()
    {
        var gpus = new GpuDoubleDevices(faulty: false, Identity(), unavailable: "libcuda (the NVIDIA driver library) was not found");

        var selection = BackendFactory.Open("auto", gpus, Cache);
        using (selection.Backend)
        {
            Assert.That(selection.Backend.Kind, Is.EqualTo(BackendKind.Cpu));
            Assert.That(selection.FallbackReason, Is.EqualTo("libcuda (the NVIDIA driver library) was not found"));
            Assert.That(selection.SelfTest, Is.Null);
        }
        Assert.That(gpus.SelfTests, Is.Zero);
    }

    [Test]
    public void AutoNeverChoosesADriverStandInButANamedDeviceRunsOnIt()
    {
        var gpus = new GpuDoubleDevices(faulty: false, Identity(), notAGpu: "the CUDA driver is the CoAR stand-in (/x/libcoar-cuda-standin.so)");

        var auto = BackendFactory.Open("auto", gpus, Cache);
        using (auto.Backend)
        {
            Assert.That(auto.Backend.Kind, Is.EqualTo(BackendKind.Cpu));
            Assert.That(auto.FallbackReason,
                Is.EqualTo("the CUDA driver is the CoAR stand-in (/x/libcoar-cuda-standin.so): auto uses only a GPU (--device cuda runs on it)"));
        }
        Assert.That(gpus.Opened, Is.Empty, "not even opened");

        var named = BackendFactory.Open("cuda", gpus, Cache);
        using (named.Backend)
            Assert.That(named.Backend, Is.SameAs(gpus.Opened.Single()));
    }

    [Test]
    public void EveryPartOfTheIdentityIsInTheKey()
    {
        var id = Identity();
        var variants = new[]
        {
            id with { Device = "NVIDIA H200" }, id with { ComputeCapability = "9.1" }, id with { Driver = "12.5 (/usr/lib/x86_64-linux-gnu/libcuda.so.1)" },
            id with { KernelCompiler = "NVRTC 12.5 -std=c++17" }, id with { KernelSources = "5a1f" }, id with { Engine = "e4b2" },
        };
        Assert.That(Identity().Key, Is.EqualTo(id.Key).And.Length.EqualTo(24));
        Assert.That(variants.Select(v => v.Key).Append(id.Key), Is.Unique);
    }

    [Test]
    public void ANewDriverRunsTheSelfTestAgainAndAFixedOnePassesIt()
    {
        // A failure kept for one driver does not hold for the next one: that driver's first use tests again.
        BackendFactory.Open("auto", new GpuDoubleDevices(faulty: true, Identity("12.4")), Cache).Backend.Dispose();
        var updated = new GpuDoubleDevices(faulty: false, Identity("12.5"));

        var selection = BackendFactory.Open("auto", updated, Cache);
        using (selection.Backend)
        {
            Assert.That(selection.Backend.Kind, Is.EqualTo(BackendKind.Cuda));
            Assert.That(selection.SelfTestRanNow, Is.True);
        }
        Assert.That(Cache.TryLoad(Identity("12.4"))!.Passed, Is.False);
        Assert.That(Cache.TryLoad(Identity("12.5"))!.Passed, Is.True);
    }

    [Test]
    public void AKeptResultRoundTripsAndADamagedOrForeignFileIsRunAgain()
    {
        var cache = Cache;
        var result = new SelfTestResult(Identity(), new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero), 3.25,
            [new SelfTestCheck("kernels rows.cu", true, "built in 1.0 s"), new SelfTestCheck("MatMul(M=1,K=64,N=33)", false, "y: NMSE 1.00E+00 > 5.0E-004")]);
        cache.Save(result);
        Assert.That(cache.TryLoad(Identity()), Is.EqualTo(result).Using<SelfTestResult>(SameResult));

        File.Copy(cache.PathFor(Identity()), cache.PathFor(Identity("another")));
        Assert.That(cache.TryLoad(Identity("another")), Is.Null, "a file holding another identity's result");

        File.WriteAllText(cache.PathFor(Identity()), "{\"format\": 1, \"identity\": ");
        Assert.That(cache.TryLoad(Identity()), Is.Null, "a damaged file");
        var gpus = new GpuDoubleDevices(faulty: false, Identity());
        BackendFactory.Open("auto", gpus, cache).Backend.Dispose();
        Assert.That(gpus.SelfTests, Is.EqualTo(1));
        Assert.That(cache.TryLoad(Identity())!.Passed, Is.True, "the damaged file was replaced");
        Assert.That(Directory.GetFiles(cache.Directory, "*.tmp"), Is.Empty, "written through a temp file and a rename");
    }

    [Test]
    public void AResultThatCannotBeKeptIsStillUsedAndSaysSo()
    {
        string blocked = Path.Combine(_directory, "not-a-directory");
        File.WriteAllText(blocked, "");
        var gpus = new GpuDoubleDevices(faulty: false, Identity());

        var selection = BackendFactory.Open("auto", gpus, new SelfTestCache(blocked));
        using (selection.Backend)
        {
            Assert.That(selection.Backend.Kind, Is.EqualTo(BackendKind.Cuda));
            Assert.That(selection.SelfTestKeepError, Does.StartWith($"the self-test result could not be kept in {blocked}"));
        }
    }

    [Test, NonParallelizable]
    public void ResultsLiveUnderTheCoarCacheDirectory()
    {
        using var home = new TemporaryCoarHome();
        Assert.That(SelfTestCache.Default().Directory, Is.EqualTo(Path.Combine(home.Directory, "self-test")));
    }

    private static bool SameResult(SelfTestResult a, SelfTestResult b) =>
        a.Identity == b.Identity && a.RanAt == b.RanAt && Math.Abs(a.Seconds - b.Seconds) < 1e-3 && a.Checks.SequenceEqual(b.Checks);
}
