namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>
/// A checkpoint: one .safetensors file, or a directory with model.safetensors.index.json and its shards, or a directory
/// holding exactly one .safetensors file. All files are memory-mapped; opening reads only headers and the index.
/// </summary>
public sealed unsafe class SafeTensorsCheckpoint : IDisposable
{
    /// <summary>The index file a sharded checkpoint directory holds.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly IReadOnlyList<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _filesByPath;
    private readonly Dictionary<string, SafeTensorsFile> _owners;
    private readonly List<string> _names;

    private SafeTensorsCheckpoint(string path, IReadOnlyList<SafeTensorsFile> files,
        IReadOnlyDictionary<string, string> metadata, List<string> names, Dictionary<string, SafeTensorsFile> owners)
    {
        SourcePath = path;
        _files = files;
        _filesByPath = files.ToDictionary(f => f.FilePath, StringComparer.Ordinal);
        Metadata = metadata;
        _names = names;
        _owners = owners;
    }

    /// <summary>Opens a .safetensors file, an index .json file, or a checkpoint directory.</summary>
    public static SafeTensorsCheckpoint Open(string path)
    {
        string fullPath = Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            string index = Path.Combine(fullPath, IndexFileName);
            if (File.Exists(index))
                return OpenIndexed(index);
            var candidates = Directory.EnumerateFiles(fullPath)
                .Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            return candidates.Count switch
            {
                1 => OpenSingle(candidates[0]),
                0 => throw new SafeTensorsException(SafeTensorsError.CheckpointNotFound, fullPath, null,
                    $"the directory has no {IndexFileName} and no .safetensors file"),
                _ => throw new SafeTensorsException(SafeTensorsError.AmbiguousCheckpoint, fullPath, null,
                    $"the directory has no {IndexFileName} but {candidates.Count} .safetensors files " +
                    $"({string.Join(", ", candidates.Select(Path.GetFileName))}); expected exactly one"),
            };
        }
        if (fullPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && File.Exists(fullPath))
            return OpenIndexed(fullPath);
        return OpenSingle(fullPath);
    }

    /// <summary>The file, or the index file, this checkpoint was opened from.</summary>
    public string SourcePath { get; }

    /// <summary>The opened files: the single file, or the shards in order of first mention in the index.</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>The index's "metadata" (non-string values as JSON text), or the single file's "__metadata__".</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in index order (or header order for a single file). Tensors a shard holds but the index does
    /// not list are not included.</summary>
    public IReadOnlyCollection<string> Names => _names;

    public bool TryGetTensor(string name, out TensorInfo info)
    {
        if (_owners.TryGetValue(name, out var file))
            return file.TryGetTensor(name, out info);
        info = null!;
        return false;
    }

    public TensorInfo GetTensor(string name) =>
        TryGetTensor(name, out var info)
            ? info
            : throw new SafeTensorsException(SafeTensorsError.TensorNotFound, SourcePath, name,
                $"the checkpoint holds no such tensor ({_names.Count} tensors)");

    /// <summary>The tensor's first byte in its shard's mapping; valid until this checkpoint is disposed.</summary>
    public byte* GetPointer(TensorInfo info) => FileOf(info).GetPointer(info);

    public ReadOnlySpan<byte> GetBytes(TensorInfo info) => FileOf(info).GetBytes(info);

    public void CopyTo<T>(TensorInfo info, Span<T> destination) where T : unmanaged =>
        FileOf(info).CopyTo(info, destination);

    public void Dispose()
    {
        foreach (var file in _files)
            file.Dispose();
    }

    private SafeTensorsFile FileOf(TensorInfo info) =>
        _filesByPath.TryGetValue(info.FilePath, out var file)
            ? file
            : throw new ArgumentException($"tensor '{info.Name}' is in {info.FilePath}, which is not part of checkpoint {SourcePath}",
                nameof(info));

    private static SafeTensorsCheckpoint OpenSingle(string filePath)
    {
        var file = SafeTensorsFile.Open(filePath);
        var names = file.Entries.Select(e => e.Name).ToList();
        return new SafeTensorsCheckpoint(file.FilePath, [file], file.Metadata, names,
            names.ToDictionary(n => n, _ => file, StringComparer.Ordinal));
    }

    private static SafeTensorsCheckpoint OpenIndexed(string indexPath)
    {
        var index = IndexParser.Read(indexPath);
        string directory = Path.GetDirectoryName(indexPath)!;
        var files = new List<SafeTensorsFile>();
        try
        {
            var shards = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shard) in index.WeightMap)
            {
                if (shards.ContainsKey(shard))
                    continue;
                string shardPath = Path.Combine(directory, shard);
                if (!File.Exists(shardPath))
                    throw new SafeTensorsException(SafeTensorsError.MissingShard, indexPath, tensor,
                        $"the weight_map puts it in shard '{shard}', but {shardPath} does not exist");
                var file = SafeTensorsFile.Open(shardPath);
                files.Add(file);
                shards.Add(shard, file);
            }

            var storedIn = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var file in files)
            foreach (var entry in file.Entries)
            {
                if (!storedIn.TryAdd(entry.Name, file))
                    throw new SafeTensorsException(SafeTensorsError.TensorInMultipleShards, file.FilePath, entry.Name,
                        $"shard {storedIn[entry.Name].FilePath} holds this tensor too");
            }

            var owners = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shard) in index.WeightMap)
            {
                var file = shards[shard];
                if (storedIn.GetValueOrDefault(tensor) != file)
                    throw new SafeTensorsException(SafeTensorsError.MissingTensorInShard, file.FilePath, tensor,
                        $"index {indexPath} puts this tensor in this shard, but the shard does not hold it" +
                        (storedIn.TryGetValue(tensor, out var actual) ? $" (it is in {actual.FilePath})" : ""));
                owners.Add(tensor, file);
            }
            return new SafeTensorsCheckpoint(indexPath, files, index.Metadata,
                index.WeightMap.Select(p => p.Key).ToList(), owners);
        }
        catch
        {
            foreach (var file in files)
                file.Dispose();
            throw;
        }
    }
}
