using System.Buffers.Binary;
using System.Text;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.SafeTensors;

public class SafeTensorsRoundTripTests : SafeTensorsTestFiles
{
    [Test]
    public void EverySupportedDTypeRoundTripsWithMetadataScalarAndEmptyTensors()
    {
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcödé \"quoted\" +<>" };
        var writer = new SafeTensorsWriter(metadata);
        var expected = new List<(string Name, DType DType, long[] Shape, byte[] Data)>();
        int seed = 0;
        foreach (var dtype in Enum.GetValues<DType>())
        {
            long[] shape = [3, 5];
            var data = RandomBytes(15 * dtype.SizeOf(), seed++);
            expected.Add(($"layer.{dtype}.weight", dtype, shape, data));
        }
        expected.Add(("scalar", DType.F32, [], BitConverter.GetBytes(2.5f)));
        expected.Add(("empty", DType.BF16, [0, 4], []));
        expected.Add(("tensor ü", DType.I8, [1], [0x80]));
        foreach (var (name, dtype, shape, data) in expected)
            writer.Add(name, dtype, shape, data);
        string path = PathOf("all.safetensors");
        writer.WriteTo(path);

        using var file = SafeTensorsFile.Open(path);
        Assert.That(file.Metadata, Is.EquivalentTo(metadata));
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(expected.Select(e => e.Name)), "header order is declaration order");
        foreach (var (name, dtype, shape, data) in expected)
        {
            var info = file.GetTensor(name);
            Assert.That(info.DType, Is.EqualTo(dtype), name);
            Assert.That(info.Shape, Is.EqualTo(shape), name);
            Assert.That(info.ByteLength, Is.EqualTo(data.Length), name);
            Assert.That(info.FilePath, Is.EqualTo(Path.GetFullPath(path)));
            Assert.That(file.GetBytes(info).ToArray(), Is.EqualTo(data), name);
        }
        Assert.That(file.GetTensor("scalar").ElementCount, Is.EqualTo(1));
        Assert.That(file.GetTensor("empty").ElementCount, Is.EqualTo(0));
        Assert.That(file.GetBytes(file.GetTensor("empty")).Length, Is.EqualTo(0));
        Assert.That(file.TryGetTensor("absent", out _), Is.False);
    }

    [Test]
    public void CopyToChecksElementSizeAndLength()
    {
        float[] values = [1.5f, -2f, 3.25f, 0f, float.MaxValue, -0f];
        ushort[] bf16 = [0x3F80, 0xC000, 0x7F80];
        var writer = new SafeTensorsWriter();
        writer.Add<float>("f", DType.F32, [2, 3], values);
        writer.Add<ushort>("b", DType.BF16, [3], bf16);
        string path = PathOf("copy.safetensors");
        writer.WriteTo(path);

        using var file = SafeTensorsFile.Open(path);
        var floats = new float[6];
        file.CopyTo<float>(file.GetTensor("f"), floats);
        Assert.That(floats, Is.EqualTo(values));
        var halves = new ushort[3];
        file.CopyTo<ushort>(file.GetTensor("b"), halves);
        Assert.That(halves, Is.EqualTo(bf16));

        var sizeError = Assert.Throws<ArgumentException>(() => file.CopyTo<float>(file.GetTensor("b"), new float[3]))!;
        Assert.That(sizeError.Message, Does.Contain("'b'").And.Contain("BF16"));
        var lengthError = Assert.Throws<ArgumentException>(() => file.CopyTo<float>(file.GetTensor("f"), new float[5]))!;
        Assert.That(lengthError.Message, Does.Contain("'f'").And.Contain("6 elements"));
    }

    [Test]
    public void HeaderIsPaddedToEightBytesAndEveryTensorIsAligned()
    {
        var writer = new SafeTensorsWriter();
        writer.Add("bytes", DType.U8, [3], RandomBytes(3, 1));
        writer.Add("half", DType.BF16, [3], RandomBytes(6, 2));
        writer.Add("single", DType.F32, [3], RandomBytes(12, 3));
        writer.Add("double", DType.F64, [1], RandomBytes(8, 4));
        string path = PathOf("aligned.safetensors");
        writer.WriteTo(path);

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(File.ReadAllBytes(path));
        Assert.That(headerLength % 8, Is.EqualTo(0));
        using var file = SafeTensorsFile.Open(path);
        foreach (var tensor in file.Tensors)
            Assert.That(tensor.DataOffset % tensor.DType.SizeOf(), Is.EqualTo(0), tensor.Name);
        Assert.That(file.GetBytes(file.GetTensor("half")).ToArray(), Is.EqualTo(RandomBytes(6, 2)));
    }

    [Test]
    public void ReadsAHandWrittenFileWithOutOfOrderEntriesAndPadding()
    {
        // Header order differs from data order, there is an unknown field, and the header ends in space padding.
        string json = "{\"b\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[2,18]}," +
                      "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"extra\":[1,{\"x\":2}]}}      ";
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + 18];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        bytes[8 + header.Length] = 7;
        bytes[8 + header.Length + 1] = 9;
        for (int i = 0; i < 4; i++)
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8 + header.Length + 2 + 4 * i), i - 2);
        string path = PathOf("hand.safetensors");
        File.WriteAllBytes(path, bytes);

        using var file = SafeTensorsFile.Open(path);
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "b", "a" }));
        Assert.That(file.Metadata, Is.Empty);
        var ints = new int[4];
        file.CopyTo<int>(file.GetTensor("b"), ints);
        Assert.That(ints, Is.EqualTo(new[] { -2, -1, 0, 1 }));
        Assert.That(file.GetBytes(file.GetTensor("a")).ToArray(), Is.EqualTo(new byte[] { 7, 9 }));
    }

    [Test]
    public void EveryFormatDTypeParsesAndUnsupportedOnesFailOnlyWhenUsed()
    {
        foreach (string name in DTypeInfo.AllSafetensorsNames)
        {
            // 8 elements fill whole bytes for every dtype, sub-byte ones included.
            int bytes = name switch { "F4" => 4, "F6_E2M3" or "F6_E3M2" => 6, _ => 8 * SizeOfName(name) };
            string path = WriteRaw($"{name}.safetensors",
                $"{{\"ok\":{{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}," +
                $"\"t\":{{\"dtype\":\"{name}\",\"shape\":[8],\"data_offsets\":[1,{1 + bytes}]}}}}", 1 + bytes);
            using var file = SafeTensorsFile.Open(path);
            Assert.That(file.Entries.Select(e => e.DTypeName), Is.EqualTo(new[] { "U8", name }));
            Assert.That(file.Entries[1].ByteLength, Is.EqualTo(bytes), name);
            Assert.That(file.GetTensor("ok").DType, Is.EqualTo(DType.U8));
            if (DTypeInfo.TryParseSafetensors(name, out var dtype))
            {
                Assert.That(file.GetTensor("t").DType, Is.EqualTo(dtype));
                Assert.That(file.Tensors, Has.Count.EqualTo(2));
                continue;
            }
            Assert.That(file.Entries[1].DType, Is.Null, name);
            var e = AssertFails(SafeTensorsError.UnsupportedDType, path, "t", () => file.GetTensor("t"));
            Assert.That(e.Message, Does.Contain(name));
            AssertFails(SafeTensorsError.UnsupportedDType, path, "t", () => file.TryGetTensor("t", out _));
            AssertFails(SafeTensorsError.UnsupportedDType, path, "t", () => _ = file.Tensors);
        }
    }

    private static int SizeOfName(string name) => name switch
    {
        "BOOL" or "U8" or "I8" or "F8_E4M3" or "F8_E5M2" or "F8_E8M0" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        _ => 8,
    };

    [Test]
    public void PointersStayValidAndDisposeIsIdempotent()
    {
        var writer = new SafeTensorsWriter();
        writer.Add("x", DType.U8, [4], new byte[] { 1, 2, 3, 4 });
        string path = PathOf("p.safetensors");
        writer.WriteTo(path);
        var file = SafeTensorsFile.Open(path);
        var info = file.GetTensor("x");
        unsafe
        {
            byte* p = file.GetPointer(info);
            Assert.That(p[3], Is.EqualTo(4));
        }
        file.Dispose();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.GetBytes(info));
    }

    [Test]
    public void RejectsATensorInfoFromAnotherFile()
    {
        var writer = new SafeTensorsWriter();
        writer.Add("x", DType.U8, [4], new byte[] { 1, 2, 3, 4 });
        writer.WriteTo(PathOf("a.safetensors"));
        writer.WriteTo(PathOf("b.safetensors"));
        using var a = SafeTensorsFile.Open(PathOf("a.safetensors"));
        using var b = SafeTensorsFile.Open(PathOf("b.safetensors"));
        var e = Assert.Throws<ArgumentException>(() => a.GetBytes(b.GetTensor("x")))!;
        Assert.That(e.Message, Does.Contain("b.safetensors"));
    }
}
