using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.SafeTensors;

public class SafeTensorsWriterTests : SafeTensorsTestFiles
{
    [Test]
    public void StreamedAndSparseTensorsProduceAValidFile()
    {
        var streamed = RandomBytes(4000, 11);
        var writer = new SafeTensorsWriter(new Dictionary<string, string> { ["kind"] = "fixture" });
        writer.AddStreamed("streamed", DType.F32, [10, 100], stream =>
        {
            // Several chunk sizes, including single bytes, must all land in order.
            stream.Write(streamed, 0, 1000);
            stream.Write(streamed.AsSpan(1000, 2999));
            stream.WriteByte(streamed[3999]);
        });
        writer.AddStreamed("sparse.middle", DType.BF16, [64, 32], null);
        writer.Add("copied", DType.U8, [3], new byte[] { 5, 6, 7 });
        writer.AddStreamed("sparse.last", DType.U8, [1000], null);
        string path = PathOf("streamed.safetensors");
        writer.WriteTo(path);

        Assert.That(FileNames(), Is.EqualTo(new[] { "streamed.safetensors" }));
        using var file = SafeTensorsFile.Open(path);
        Assert.That(file.Metadata["kind"], Is.EqualTo("fixture"));
        Assert.That(file.GetBytes(file.GetTensor("streamed")).ToArray(), Is.EqualTo(streamed));
        Assert.That(file.GetBytes(file.GetTensor("copied")).ToArray(), Is.EqualTo(new byte[] { 5, 6, 7 }));
        foreach (string sparse in new[] { "sparse.middle", "sparse.last" })
        {
            var bytes = file.GetBytes(file.GetTensor(sparse));
            Assert.That(bytes.Length, Is.EqualTo(file.GetTensor(sparse).ByteLength));
            Assert.That(bytes.ContainsAnyExcept((byte)0), Is.False, sparse);
        }
    }

    [Test]
    public void HugeSparseTensorIsWrittenAndOpenedWithoutTouchingItsData()
    {
        // 2 GiB of BF16 (the embedding's shape, 4x wider): written as a hole, opened by reading the header only.
        long[] shape = [65536, 16384];
        var writer = new SafeTensorsWriter();
        writer.Add("head", DType.F32, [2], [1f, 2f]);
        writer.AddStreamed("big", DType.BF16, shape, null);
        string path = PathOf("big.safetensors");
        writer.WriteTo(path);

        using var file = SafeTensorsFile.Open(path);
        var big = file.GetTensor("big");
        Assert.That(big.ByteLength, Is.EqualTo(2L << 30));
        Assert.That(new FileInfo(path).Length, Is.EqualTo(big.DataOffset + big.ByteLength));
        AssertFails(SafeTensorsError.TensorTooLarge, path, "big", () => file.GetBytes(big));
        unsafe
        {
            byte* p = file.GetPointer(big);
            Assert.That(p[0] | p[big.ByteLength / 2] | p[big.ByteLength - 1], Is.EqualTo(0));
        }
        var head = new float[2];
        file.CopyTo<float>(file.GetTensor("head"), head);
        Assert.That(head, Is.EqualTo(new[] { 1f, 2f }));
    }

    [Test]
    public void WriterThatThrowsLeavesTheExistingFileAndNoTempFile()
    {
        string path = PathOf("model.safetensors");
        var original = new SafeTensorsWriter();
        original.Add("w", DType.U8, [2], new byte[] { 1, 2 });
        original.WriteTo(path);
        var before = File.ReadAllBytes(path);

        var failing = new SafeTensorsWriter();
        failing.Add("w", DType.U8, [2], new byte[] { 3, 4 });
        failing.AddStreamed("x", DType.F32, [4], stream =>
        {
            stream.Write(new byte[8]);
            throw new InvalidOperationException("source went away");
        });
        Assert.Throws<InvalidOperationException>(() => failing.WriteTo(path));

        Assert.That(FileNames(), Is.EqualTo(new[] { "model.safetensors" }));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
    }

    [Test]
    public void WriterThatWritesTooFewBytesFailsAndLeavesNothing()
    {
        var writer = new SafeTensorsWriter();
        writer.AddStreamed("short", DType.BF16, [3, 3], stream => stream.Write(new byte[17]));
        string path = PathOf("short.safetensors");
        var e = AssertFails(SafeTensorsError.WrittenSizeMismatch, path, "short", () => writer.WriteTo(path));
        Assert.That(e.Message, Does.Contain("wrote 17 bytes").And.Contain("18 bytes"));
        Assert.That(FileNames(), Is.Empty);
    }

    [Test]
    public void WriterThatWritesTooManyBytesFailsAndLeavesNothing()
    {
        var writer = new SafeTensorsWriter();
        writer.AddStreamed("long", DType.F32, [2], stream =>
        {
            stream.Write(new byte[6]);
            stream.Write(new byte[6]);
        });
        string path = PathOf("long.safetensors");
        var e = AssertFails(SafeTensorsError.WrittenSizeMismatch, path, "long", () => writer.WriteTo(path));
        Assert.That(e.Message, Does.Contain("past the tensor's 8 bytes"));
        Assert.That(FileNames(), Is.Empty);
    }

    [Test]
    public void BadDeclarationsAreRejectedNamingTheTensor()
    {
        var writer = new SafeTensorsWriter();
        writer.Add("w", DType.U8, [1], new byte[] { 1 });
        Assert.That(Assert.Throws<ArgumentException>(() => writer.Add("w", DType.U8, [1], new byte[] { 1 }))!.Message,
            Does.Contain("'w'").And.Contain("already"));
        Assert.That(Assert.Throws<ArgumentException>(() => writer.Add("len", DType.F32, [2], new byte[7]))!.Message,
            Does.Contain("'len'").And.Contain("needs 8 bytes"));
        Assert.That(Assert.Throws<ArgumentException>(() => writer.AddStreamed("neg", DType.F32, [2, -3], null))!.Message,
            Does.Contain("'neg'").And.Contain("negative"));
        Assert.That(Assert.Throws<ArgumentException>(() => writer.Add<float>("elem", DType.BF16, [1], [1f]))!.Message,
            Does.Contain("'elem'").And.Contain("BF16"));
        Assert.That(Assert.Throws<ArgumentException>(() => writer.AddStreamed("huge", DType.F64, [1L << 40, 1L << 30], null))!.Message,
            Does.Contain("'huge'").And.Contain("overflows"));
        Assert.Throws<ArgumentException>(() => writer.AddStreamed("__metadata__", DType.U8, [1], null));
        Assert.That(writer.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "w" }));
    }
}
