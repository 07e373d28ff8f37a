using System.Text;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Torch;

/// <summary>
/// A torch.save checkpoint read without Python: every tensor reachable through (nested) dicts, named by its keys joined
/// with '.' (a Lightning checkpoint's weights come out as <c>state_dict.encoder.conv_in.weight</c>), plus a list of the
/// entries that are not tensors in dicts (epoch numbers, optimizer state lists, version strings), which are skipped.
/// Views are gathered into contiguous data; tensors sharing a storage each get their own copy.
/// </summary>
public sealed class TorchCheckpoint
{
    private const int MaxNesting = 64;

    public string Path { get; }
    public IReadOnlyList<CheckpointTensor> Tensors { get; }
    public IReadOnlyList<SkippedEntry> Skipped { get; }

    private TorchCheckpoint(string path, IReadOnlyList<CheckpointTensor> tensors, IReadOnlyList<SkippedEntry> skipped)
    {
        Path = path;
        Tensors = tensors;
        Skipped = skipped;
    }

    public static TorchCheckpoint Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var archive = TorchArchive.Open(path);
        string pickleName = $"{path}: {archive.Prefix}data.pkl";
        object? root = RestrictedUnpickler.Load(archive.Read("data.pkl"), pickleName);
        if (root is not PickleDict dict)
            throw new InvalidDataException(
                $"{pickleName}: the saved object is {RestrictedUnpickler.Describe(root)}, expected a dict of tensors");

        bool bigEndian = ReadByteOrder(archive);
        var found = new List<(string Name, TorchTensorRef Tensor)>();
        var skipped = new List<SkippedEntry>();
        Walk(dict, "", 0, found, skipped, pickleName);
        CheckTensorBytes(found, pickleName);

        var storages = new Dictionary<string, byte[]>();
        var tensors = new List<CheckpointTensor>(found.Count);
        foreach (var (name, tensor) in found)
        {
            TorchStorageRef storage = tensor.Storage;
            if (!storages.TryGetValue(storage.Key, out byte[]? bytes))
            {
                bytes = ReadStorage(archive, storage);
                storages[storage.Key] = bytes;
            }
            int size = storage.DType.SizeOf();
            byte[] data = StridedGather.Gather(bytes, storage.ElementCount, size, tensor.Offset, tensor.Shape,
                tensor.Stride, $"{path}: tensor {name}");
            if (bigEndian)
                SwapToLittleEndian(data, size);
            tensors.Add(new CheckpointTensor(name, storage.DType, tensor.Shape, data));
        }
        return new TorchCheckpoint(path, tensors, skipped);
    }

    /// <summary>
    /// Names a tree walk may visit: the same nested dict referenced twice at every level makes a few bytes of pickle
    /// name 2^depth entries. A real state dict has one name per tensor.
    /// </summary>
    private const int MaxNames = 100_000;

    /// <summary>
    /// The tensors' bytes, each name copied out of its storage, against the storages' own bytes: a tensor reached
    /// under many names would be copied that many times. Tied weights (two names, one storage) stay well within this.
    /// </summary>
    private static void CheckTensorBytes(List<(string Name, TorchTensorRef Tensor)> found, string source)
    {
        double storageBytes = found.Select(f => f.Tensor.Storage).DistinctBy(s => s.Key).Sum(s => (double)s.ElementCount * s.DType.SizeOf());
        double tensorBytes = found.Sum(f => f.Tensor.Shape.Aggregate(1.0, (p, d) => p * d) * f.Tensor.Storage.DType.SizeOf());
        if (tensorBytes > 4.0 * storageBytes + (1 << 20))
            throw new InvalidDataException($"{source}: {found.Count} tensor names would copy {tensorBytes:0} bytes out of "
                                           + $"{storageBytes:0} bytes of storage: the same data under too many names");
    }

    private static void Walk(PickleDict dict, string prefix, int depth, List<(string, TorchTensorRef)> tensors,
        List<SkippedEntry> skipped, string source)
    {
        if (depth > MaxNesting)
            throw new InvalidDataException($"{source}: dicts nested deeper than {MaxNesting} at {prefix}");
        foreach (var (key, value) in dict.Entries)
        {
            if (tensors.Count + skipped.Count >= MaxNames)
                throw new InvalidDataException($"{source}: more than {MaxNames} named entries (shared nested dicts?); a checkpoint has one per tensor");
            string name = prefix + key switch
            {
                string s => s,
                long l => l.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => $"<{RestrictedUnpickler.Describe(key)}>",
            };
            switch (value)
            {
                case TorchTensorRef tensor when key is string or long:
                    tensors.Add((name, tensor));
                    break;
                case PickleDict nested when key is string or long && nested.Entries.Count > 0:
                    Walk(nested, name + ".", depth + 1, tensors, skipped, source);
                    break;
                default:
                    skipped.Add(new SkippedEntry(name, RestrictedUnpickler.Describe(value)));
                    break;
            }
        }
    }

    private static byte[] ReadStorage(TorchArchive archive, TorchStorageRef storage)
    {
        string record = $"data/{storage.Key}";
        long expected = checked(storage.ElementCount * storage.DType.SizeOf());
        long actual = archive.Length(record);
        if (actual != expected)
            throw new InvalidDataException($"{archive.Path}: record {archive.Prefix}{record} holds {actual} bytes, but "
                                           + $"storage {storage.Key} is {storage.DType}[{storage.ElementCount}] = {expected} bytes");
        return archive.Read(record);
    }

    private static bool ReadByteOrder(TorchArchive archive)
    {
        if (!archive.Has("byteorder"))
            return false; // files from before the record existed are little-endian
        string order = Encoding.ASCII.GetString(archive.Read("byteorder")).Trim();
        return order switch
        {
            "little" => false,
            "big" => true,
            _ => throw new InvalidDataException($"{archive.Path}: byteorder record says '{order}', expected little or big"),
        };
    }

    private static void SwapToLittleEndian(Span<byte> data, int elementSize)
    {
        if (elementSize == 1)
            return;
        for (int i = 0; i < data.Length; i += elementSize)
            data.Slice(i, elementSize).Reverse();
    }
}
