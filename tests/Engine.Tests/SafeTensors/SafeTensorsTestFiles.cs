using System.Buffers.Binary;
using System.Text;
using CoAR.Engine.Managed.SafeTensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.SafeTensors;

/// <summary>Base for tests that write files: a fresh temp directory per test, deleted afterwards; raw file builders.</summary>
public abstract class SafeTensorsTestFiles
{
    protected string Directory { get; private set; } = "";

    [SetUp]
    public void CreateDirectory()
    {
        Directory = Path.Combine(Path.GetTempPath(), "coar-safetensors-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    [TearDown]
    public void DeleteDirectory() => System.IO.Directory.Delete(Directory, recursive: true);

    protected string PathOf(string fileName) => Path.Combine(Directory, fileName);

    /// <summary>The names of the files now in the test directory, sorted (temp files included).</summary>
    protected string[] FileNames() =>
        System.IO.Directory.GetFiles(Directory).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Writes a file byte by byte: the length prefix (the header's own length unless given), the header, data bytes.</summary>
    protected string WriteRaw(string fileName, ReadOnlySpan<byte> header, int dataBytes, ulong? declaredHeaderLength = null)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredHeaderLength ?? (ulong)header.Length);
        header.CopyTo(bytes.AsSpan(8));
        for (int i = 0; i < dataBytes; i++)
            bytes[8 + header.Length + i] = (byte)(i * 7 + 1);
        string path = PathOf(fileName);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    protected string WriteRaw(string fileName, string headerJson, int dataBytes) =>
        WriteRaw(fileName, Encoding.UTF8.GetBytes(headerJson), dataBytes);

    /// <summary>Asserts that <paramref name="action"/> fails with <paramref name="kind"/>, naming the file and tensor.</summary>
    protected static SafeTensorsException AssertFails(SafeTensorsError kind, string filePath, string? tensor, TestDelegate action)
    {
        var e = Assert.Throws<SafeTensorsException>(action)!;
        Assert.That(e.Kind, Is.EqualTo(kind), e.Message);
        Assert.That(e.FilePath, Is.EqualTo(Path.GetFullPath(filePath)));
        Assert.That(e.TensorName, Is.EqualTo(tensor));
        Assert.That(e.Message, Does.Contain(Path.GetFullPath(filePath)));
        if (tensor is not null)
            Assert.That(e.Message, Does.Contain($"'{tensor}'"));
        return e;
    }

    protected static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
