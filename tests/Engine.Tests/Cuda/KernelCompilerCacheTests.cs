using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>The compiler's use of the cache with real NVRTC output: NVRTC runs only when the key is new or the file is bad.</summary>
public class KernelCompilerCacheTests
{
    private const string File = "probe.cu";
    private const string ProbeSource = "#include \"common.cuh\"\nextern \"C\" __global__ void probe_add_f32(float* x, long long n) { if (global_thread_index() < n) x[global_thread_index()] += 1.0f; }\n";
    private static readonly ComputeCapability Sm80 = new(8, 0);

    private string directory = "";
    private KernelSourceSet sources = null!;

    [SetUp]
    public void SetUp()
    {
        NvrtcRequirement.EnsureLoaded();
        directory = Directory.CreateTempSubdirectory("coar-kernel-compiler-").FullName;
        sources = KernelSourceSet.Embedded.With(File, ProbeSource);
    }

    [TearDown]
    public void TearDown()
    {
        if (Directory.Exists(directory))
            Directory.Delete(directory, recursive: true);
    }

    private KernelCompiler Compiler(KernelSourceSet? set = null, params string[] extra) =>
        new(new KernelCompilerOptions { Sources = set ?? sources, CacheDirectory = directory, ExtraOptions = extra });

    [Test]
    public void MissThenHitWithoutCallingNvrtcAgain()
    {
        var compiler = Compiler();
        var first = compiler.Compile(File, Sm80);
        var second = compiler.Compile(File, Sm80);

        Assert.That(first.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Miss));
        Assert.That(second.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Hit));
        Assert.That(compiler.NvrtcCompilations, Is.EqualTo(1));
        Assert.That(second.Image, Is.EqualTo(first.Image));
        Assert.That(second.CacheKey, Is.EqualTo(first.CacheKey));

        var fresh = Compiler();
        Assert.That(fresh.Compile(File, Sm80).CacheOutcome, Is.EqualTo(KernelCacheOutcome.Hit), "another compiler reads the same directory");
        Assert.That(fresh.NvrtcCompilations, Is.Zero);
    }

    [Test]
    public void ASourceChangeIsANewKey()
    {
        var before = Compiler().Compile(File, Sm80);
        var changed = Compiler(sources.With(File, ProbeSource + "// edited\n"));
        var after = changed.Compile(File, Sm80);

        Assert.That(after.CacheKey, Is.Not.EqualTo(before.CacheKey));
        Assert.That(after.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Miss));
        Assert.That(changed.NvrtcCompilations, Is.EqualTo(1));
    }

    [Test]
    public void AHeaderChangeIsANewKey()
    {
        var before = Compiler().Compile(File, Sm80);
        var common = sources.Headers.Single(h => h.Key == "common.cuh").Value;
        var after = Compiler(sources.With("common.cuh", common + "\n// edited\n")).Compile(File, Sm80);

        Assert.That(after.CacheKey, Is.Not.EqualTo(before.CacheKey));
        Assert.That(after.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Miss));
    }

    [Test]
    public void AnOptionOrArchitectureChangeIsANewKey()
    {
        var plain = Compiler().Compile(File, Sm80);
        var withDefine = Compiler(null, "-DCOAR_TEST_VARIANT=1").Compile(File, Sm80);
        var otherArchitecture = Compiler().Compile(File, new ComputeCapability(9, 0));

        Assert.That(withDefine.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Miss));
        Assert.That(otherArchitecture.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Miss));
        Assert.That(new[] { plain.CacheKey, withDefine.CacheKey, otherArchitecture.CacheKey }, Is.Unique);
        Assert.That(withDefine.Options, Does.Contain("-DCOAR_TEST_VARIANT=1"));
    }

    [TestCase("truncate", "truncated")]
    [TestCase("flip", "SHA-256")]
    public void ACorruptFileIsDetectedAndRebuilt(string damage, string reason)
    {
        var compiler = Compiler();
        var original = compiler.Compile(File, Sm80);
        var path = Directory.GetFiles(directory).Single();
        var bytes = System.IO.File.ReadAllBytes(path);
        if (damage == "truncate")
            bytes = bytes[..(bytes.Length / 2)];
        else
            bytes[bytes.Length / 2] ^= 0x01;
        System.IO.File.WriteAllBytes(path, bytes);

        var rebuilt = compiler.Compile(File, Sm80);
        Assert.That(rebuilt.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Rebuilt));
        Assert.That(rebuilt.CacheNote, Does.Contain(reason));
        Assert.That(rebuilt.Image, Is.EqualTo(original.Image));
        Assert.That(compiler.NvrtcCompilations, Is.EqualTo(2));

        Assert.That(compiler.Compile(File, Sm80).CacheOutcome, Is.EqualTo(KernelCacheOutcome.Hit), "the rebuilt file replaced the bad one");
        Assert.That(compiler.NvrtcCompilations, Is.EqualTo(2));
    }
}
