using System.Security.Cryptography;
using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>The cache file format on its own: round trip, and every kind of damage detected with a reason.</summary>
public class KernelCacheTests
{
    private string directory = "";

    [SetUp]
    public void CreateDirectory() => directory = Directory.CreateTempSubdirectory("coar-kernel-cache-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(directory, recursive: true);

    private static byte[] Key(string text) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));

    private static byte[] Payload(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Test]
    public void RoundTripsAPayloadAndLeavesNoTempFile()
    {
        var cache = new KernelCache(Path.Combine(directory, "nested", "kernels"));
        var payload = Payload(5000, 1);
        cache.Write("a.cubin", Key("a"), payload);

        Assert.That(cache.TryRead("a.cubin", Key("a"), out var read, out var rejection), Is.True);
        Assert.That(read, Is.EqualTo(payload));
        Assert.That(rejection, Is.Null);
        Assert.That(Directory.GetFiles(cache.Directory).Select(Path.GetFileName), Is.EqualTo(new[] { "a.cubin" }));
        Assert.That(cache.Usage(), Is.EqualTo((1, new FileInfo(cache.PathFor("a.cubin")).Length)));
    }

    [Test]
    public void AMissingFileIsAPlainMiss()
    {
        var cache = new KernelCache(Path.Combine(directory, "never-created"));
        Assert.That(cache.TryRead("a.cubin", Key("a"), out _, out var rejection), Is.False);
        Assert.That(rejection, Is.Null);
        Assert.That(cache.Usage(), Is.EqualTo((0, 0L)));
    }

    [TestCase(0, "truncated")]
    [TestCase(40, "truncated")]
    [TestCase(-1, "truncated or padded")]
    public void DetectsATruncatedFile(int keep, string expected)
    {
        var cache = new KernelCache(directory);
        cache.Write("a.cubin", Key("a"), Payload(300, 2));
        var bytes = File.ReadAllBytes(cache.PathFor("a.cubin"));
        File.WriteAllBytes(cache.PathFor("a.cubin"), bytes[..(keep >= 0 ? keep : bytes.Length - 1)]);

        Assert.That(cache.TryRead("a.cubin", Key("a"), out _, out var rejection), Is.False);
        Assert.That(rejection, Does.Contain(expected).And.Contain("a.cubin"));
    }

    [Test]
    public void DetectsAFlippedPayloadByte()
    {
        var cache = new KernelCache(directory);
        cache.Write("a.cubin", Key("a"), Payload(300, 3));
        var bytes = File.ReadAllBytes(cache.PathFor("a.cubin"));
        bytes[^17] ^= 0x10;
        File.WriteAllBytes(cache.PathFor("a.cubin"), bytes);

        Assert.That(cache.TryRead("a.cubin", Key("a"), out _, out var rejection), Is.False);
        Assert.That(rejection, Does.Contain("SHA-256"));
    }

    [Test]
    public void RejectsAnotherKeyAndAForeignFile()
    {
        var cache = new KernelCache(directory);
        cache.Write("a.cubin", Key("a"), Payload(100, 4));
        Assert.That(cache.TryRead("a.cubin", Key("b"), out _, out var otherKey), Is.False);
        Assert.That(otherKey, Does.Contain("another key"));

        File.WriteAllBytes(cache.PathFor("b.cubin"), Payload(200, 5));
        Assert.That(cache.TryRead("b.cubin", Key("b"), out _, out var foreign), Is.False);
        Assert.That(foreign, Does.Contain("bad magic"));
    }

    [Test]
    public void TheDefaultDirectoryFollowsTheEnvironment()
    {
        var saved = (Environment.GetEnvironmentVariable("COAR_KERNEL_CACHE"), Environment.GetEnvironmentVariable("XDG_CACHE_HOME"));
        try
        {
            Environment.SetEnvironmentVariable("COAR_KERNEL_CACHE", "/tmp/explicit-kernels");
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg");
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo("/tmp/explicit-kernels"));
            Environment.SetEnvironmentVariable("COAR_KERNEL_CACHE", null);
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo("/tmp/xdg/coar/kernels"));
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            Assert.That(KernelCache.DefaultDirectory(), Does.EndWith("/.cache/coar/kernels"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("COAR_KERNEL_CACHE", saved.Item1);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved.Item2);
        }
    }
}
