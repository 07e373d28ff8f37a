using System.IO.Compression;
using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Managed.Torch;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Torch;

public class TorchCheckpointTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDirectory() => _dir = Directory.CreateTempSubdirectory("coar-torch-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dir, recursive: true);

    private string PathFor(string name) => Path.Combine(_dir, name);

    private static float[] Floats(CheckpointTensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.Data).ToArray();

    private static CheckpointTensor Tensor(TorchCheckpoint checkpoint, string name) =>
        checkpoint.Tensors.Single(t => t.Name == name);

    [Test]
    public void TheTestPicklerWritesWhatCPythonWrites()
    {
        var (pickle, storages) = TorchPickleWriter.Dump(GoldenPickle.Build());
        Assert.That(Convert.ToHexStringLower(pickle), Is.EqualTo(GoldenPickle.Hex));
        Assert.That(storages.Keys, Is.EquivalentTo(new[] { "0", "1", "2", "3" }));
    }

    [TestCase(CompressionLevel.NoCompression)]
    [TestCase(CompressionLevel.Optimal)]
    public void ALightningCheckpointGivesItsTensorsAndListsTheRest(CompressionLevel compression)
    {
        // The pickle is CPython's own bytes; the storages are the ones the stand-in structure holds.
        var (_, storages) = TorchPickleWriter.Dump(GoldenPickle.Build());
        string path = PathFor("lightning.ckpt");
        TorchZipWriter.Write(path, Convert.FromHexString(GoldenPickle.Hex),
            storages.ToDictionary(kv => kv.Key, kv => kv.Value.Data), "lightning", compression);

        TorchCheckpoint checkpoint = TorchCheckpoint.Load(path);

        Assert.That(checkpoint.Tensors.Select(t => t.Name),
            Is.EqualTo(new[] { "state_dict.a.weight", "state_dict.a.weight_t", "state_dict.b", "state_dict.c" }));
        CheckpointTensor weight = Tensor(checkpoint, "state_dict.a.weight");
        Assert.That((weight.DType, weight.Shape), Is.EqualTo((DType.F32, new long[] { 2, 3 })));
        Assert.That(Floats(weight), Is.EqualTo(GoldenPickle.F32Values));

        // The transposed view (stride [1, 3]) of the same storage is gathered into row-major order.
        CheckpointTensor transposed = Tensor(checkpoint, "state_dict.a.weight_t");
        Assert.That(transposed.Shape, Is.EqualTo(new long[] { 3, 2 }));
        float[] v = GoldenPickle.F32Values;
        Assert.That(Floats(transposed), Is.EqualTo(new[] { v[0], v[3], v[1], v[4], v[2], v[5] }));

        CheckpointTensor bf16 = Tensor(checkpoint, "state_dict.b");
        Assert.That((bf16.DType, bf16.Shape), Is.EqualTo((DType.BF16, new long[] { 3 })));
        Assert.That(MemoryMarshal.Cast<byte, ushort>(bf16.Data).ToArray(), Is.EqualTo(GoldenPickle.Bf16Bits[1..]));

        CheckpointTensor parameter = Tensor(checkpoint, "state_dict.c");
        Assert.That(parameter.DType, Is.EqualTo(DType.F16));
        Assert.That(MemoryMarshal.Cast<byte, Half>(parameter.Data).ToArray().Select(h => (float)h), Is.EqualTo(GoldenPickle.F16Values));

        Assert.That(checkpoint.Skipped, Is.EqualTo(new SkippedEntry[]
        {
            new("epoch", "int 3"),
            new("global_step", "int 70000"),
            new("pytorch-lightning_version", "str '1.9.0'"),
            new("optimizer_states", "list of 1"),
            new("lr_schedulers", "list of 0"),
        }));
    }

    [Test]
    public void Protocol4PicklesRead()
    {
        string path = PathFor("p4.pt");
        TorchZipWriter.Write(path, Convert.FromHexString(GoldenPickle.Protocol4Hex),
            new Dictionary<string, byte[]> { ["0"] = GoldenPickle.Bytes(new[] { 0.25f, -8f }) });
        TorchCheckpoint checkpoint = TorchCheckpoint.Load(path);
        Assert.That(Floats(Tensor(checkpoint, "w")), Is.EqualTo(new[] { 0.25f, -8f }));
        Assert.That(checkpoint.Skipped, Is.EqualTo(new SkippedEntry[]
        {
            new("n", "int -300"), new("big", "int 1099511627776"), new("neg", "int -1099511627776"), new("f", "float 1.5"),
        }));
    }

    [Test]
    public void TensorsSharingAStorageEachGetTheirElements()
    {
        var storage = new FakeStorage("FloatStorage", DType.F32, GoldenPickle.Bytes(Enumerable.Range(0, 12).Select(i => (float)i).ToArray()));
        string path = PathFor("shared.pt");
        TorchZipWriter.Save(path, new PyOrderedDict(
            ("row", new FakeTensor(storage, 4, [4], [1])),
            ("block", new FakeTensor(storage, 1, [2, 2], [6, 2])),
            ("scalar", new FakeTensor(storage, 11, [], [])),
            ("column", new FakeTensor(storage, 2, [3, 1], [4, 1]))));

        TorchCheckpoint checkpoint = TorchCheckpoint.Load(path);
        Assert.That(Floats(Tensor(checkpoint, "row")), Is.EqualTo(new[] { 4f, 5f, 6f, 7f }));
        Assert.That(Floats(Tensor(checkpoint, "block")), Is.EqualTo(new[] { 1f, 3f, 7f, 9f }));
        Assert.That(Tensor(checkpoint, "scalar").Shape, Is.Empty);
        Assert.That(Floats(Tensor(checkpoint, "scalar")), Is.EqualTo(new[] { 11f }));
        Assert.That(Floats(Tensor(checkpoint, "column")), Is.EqualTo(new[] { 2f, 6f, 10f }));
    }

    [Test]
    public void NestedDictsAreFlattenedWithDots()
    {
        var longs = new FakeStorage("LongStorage", DType.I64, GoldenPickle.Bytes(new long[] { 42, -1 }));
        var flags = new FakeStorage("BoolStorage", DType.Bool, [1, 0, 1]);
        string path = PathFor("nested.pt");
        TorchZipWriter.Save(path, new PyDict(
            ("model", new PyDict(("bn", new PyOrderedDict(("num_batches_tracked", new FakeTensor(longs, 0, [], [])))),
                ("mask", FakeTensor.Contiguous(flags, 3)))),
            ("lr", 0.5),
            ("empty", new PyDict()),
            ("note", null)));

        TorchCheckpoint checkpoint = TorchCheckpoint.Load(path);
        Assert.That(checkpoint.Tensors.Select(t => (t.Name, t.DType)),
            Is.EqualTo(new[] { ("model.bn.num_batches_tracked", DType.I64), ("model.mask", DType.Bool) }));
        Assert.That(BitConverter.ToInt64(Tensor(checkpoint, "model.bn.num_batches_tracked").Data), Is.EqualTo(42));
        Assert.That(Tensor(checkpoint, "model.mask").Data, Is.EqualTo(new byte[] { 1, 0, 1 }));
        Assert.That(checkpoint.Skipped, Is.EqualTo(new SkippedEntry[] { new("lr", "float 0.5"), new("empty", "dict of 0"), new("note", "None") }));
    }

    [Test]
    public void ManyTensorsUseFourByteMemoIndices()
    {
        var storage = new FakeStorage("FloatStorage", DType.F32, GoldenPickle.Bytes(Enumerable.Range(0, 300).Select(i => (float)i).ToArray()));
        var items = Enumerable.Range(0, 300).Select(i => ((object)$"t{i}", (object?)new FakeTensor(storage, i, [1], [1]))).ToArray();
        var (pickle, _) = TorchPickleWriter.Dump(new PyOrderedDict(items));
        Assert.That(pickle, Does.Contain((byte)'r').And.Contain((byte)'j'), "LONG_BINPUT and LONG_BINGET are exercised");
        string path = PathFor("many.pt");
        TorchZipWriter.Save(path, new PyOrderedDict(items));
        TorchCheckpoint checkpoint = TorchCheckpoint.Load(path);
        Assert.That(checkpoint.Tensors, Has.Count.EqualTo(300));
        Assert.That(Floats(Tensor(checkpoint, "t299")), Is.EqualTo(new[] { 299f }));
    }

    [Test]
    public void BigEndianArchivesAreSwapped()
    {
        float[] values = [1f, -2.5f, 1e-3f];
        byte[] bigEndian = values.SelectMany(v => BitConverter.GetBytes(v).Reverse()).ToArray();
        var storage = new FakeStorage("FloatStorage", DType.F32, bigEndian);
        string path = PathFor("big.pt");
        TorchZipWriter.Save(path, new PyDict(("w", FakeTensor.Contiguous(storage, 3))), byteOrder: "big");
        Assert.That(Floats(Tensor(TorchCheckpoint.Load(path), "w")), Is.EqualTo(values));
    }

    [Test]
    public void OsSystemIsRefusedByName()
    {
        string path = PathFor("evil.pt");
        TorchZipWriter.Save(path, new PyDict(("x", new PyCall("os", "system", "echo pwned"))));
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path));
        Assert.That(e!.Message, Does.Contain("refused global os.system").And.Contain("archive/data.pkl byte "));
    }

    [TestCase("builtins", "eval")]
    [TestCase("__builtin__", "getattr")]
    [TestCase("subprocess", "Popen")]
    [TestCase("torch.storage", "_load_from_bytes")]
    public void OtherGlobalsAreRefused(string module, string name)
    {
        string path = PathFor("evil.pt");
        TorchZipWriter.Save(path, new PyCall(module, name, "x"));
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path));
        Assert.That(e!.Message, Does.Contain($"refused global {module}.{name}"));
    }

    [Test]
    public void AnUnknownOpcodeIsRefusedWithItsOffset()
    {
        string path = PathFor("opcode.pt");
        TorchZipWriter.Write(path, [0x80, 2, (byte)'I', (byte)'3', (byte)'\n', (byte)'.'], new Dictionary<string, byte[]>());
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path));
        Assert.That(e!.Message, Does.EndWith("archive/data.pkl byte 2: opcode 0x49 (INT) is not allowed in a torch.save checkpoint"));
    }

    [Test]
    public void ATruncatedPickleIsAClearError()
    {
        byte[] pickle = Convert.FromHexString(GoldenPickle.Hex);
        string path = PathFor("cut.pt");
        TorchZipWriter.Write(path, pickle[..200], new Dictionary<string, byte[]>());
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path));
        Assert.That(e!.Message, Does.Contain("cut.pt").And.Contain("truncated"));
    }

    [Test]
    public void AStorageRecordOfTheWrongSizeIsNamed()
    {
        var storage = new FakeStorage("FloatStorage", DType.F32, new byte[16]);
        var (pickle, _) = TorchPickleWriter.Dump(new PyDict(("w", FakeTensor.Contiguous(storage, 4))));
        string path = PathFor("short.pt");
        TorchZipWriter.Write(path, pickle, new Dictionary<string, byte[]> { ["0"] = new byte[12] });
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path));
        Assert.That(e!.Message, Does.Contain("archive/data/0 holds 12 bytes").And.Contain("16 bytes"));
    }

    [Test]
    public void AViewOutsideItsStorageIsNamed()
    {
        var storage = new FakeStorage("FloatStorage", DType.F32, new byte[16]);
        string path = PathFor("view.pt");
        TorchZipWriter.Save(path, new PyDict(("w", new FakeTensor(storage, 2, [3], [1]))));
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path));
        Assert.That(e!.Message, Does.Contain("tensor w").And.Contain("reaches element 4 of a 4-element storage"));
    }

    [Test]
    public void UnsupportedStorageTypesAreNamed()
    {
        var storage = new FakeStorage("ComplexFloatStorage", DType.F64, new byte[16]);
        string path = PathFor("complex.pt");
        TorchZipWriter.Save(path, new PyDict(("w", FakeTensor.Contiguous(storage, 2))));
        var e = Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path));
        Assert.That(e!.Message, Does.Contain("storage type torch.ComplexFloatStorage is not supported"));
    }

    [Test]
    public void FilesThatAreNotCheckpointsAreNamed()
    {
        string text = PathFor("notes.txt");
        File.WriteAllText(text, "hello");
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(text))!.Message,
            Does.Contain("notes.txt: not a torch.save checkpoint"));

        string legacy = PathFor("legacy.pt");
        File.WriteAllBytes(legacy, [0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.']);
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(legacy))!.Message,
            Does.Contain("legacy (before PyTorch 1.6)"));

        string zip = PathFor("other.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
            archive.CreateEntry("readme.txt");
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(zip))!.Message,
            Does.Contain("no <name>/data.pkl record"));

        Assert.Throws<FileNotFoundException>(() => TorchCheckpoint.Load(PathFor("missing.ckpt")));
    }

    [Test]
    public void TheTopLevelMustBeADict()
    {
        string path = PathFor("list.pt");
        TorchZipWriter.Save(path, new List<object?> { 1, 2 });
        Assert.That(Assert.Throws<InvalidDataException>(() => TorchCheckpoint.Load(path))!.Message,
            Does.Contain("the saved object is list of 2, expected a dict of tensors"));
    }
}
