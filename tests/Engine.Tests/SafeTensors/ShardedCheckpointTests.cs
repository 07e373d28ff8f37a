using System.Text.Json;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.SafeTensors;

public class ShardedCheckpointTests : SafeTensorsTestFiles
{
    private static readonly string Shard1 = ShardedCheckpointWriter.ShardFileName(0, 2);
    private static readonly string Shard2 = ShardedCheckpointWriter.ShardFileName(1, 2);

    private string IndexPath => PathOf(SafeTensorsCheckpoint.IndexFileName);

    /// <summary>Seven tensors of mixed sizes and dtypes, with their bytes.</summary>
    private static List<(PendingTensor Tensor, byte[] Data)> SampleTensors()
    {
        var list = new List<(PendingTensor, byte[])>();
        (string Name, DType DType, long[] Shape)[] specs =
        [
            ("model.embed_tokens.weight", DType.BF16, [64, 16]), ("model.layers.0.attn.weight", DType.BF16, [16, 16]),
            ("model.layers.0.norm.weight", DType.F32, [16]), ("model.layers.1.attn.weight", DType.BF16, [16, 16]),
            ("model.layers.1.norm.weight", DType.F32, [16]), ("model.norm.weight", DType.F32, [16]),
            ("lm_head.weight", DType.BF16, [64, 16]),
        ];
        for (int i = 0; i < specs.Length; i++)
        {
            var (name, dtype, shape) = specs[i];
            var data = RandomBytes((int)(shape.Aggregate(1L, (a, b) => a * b) * dtype.SizeOf()), 100 + i);
            // Alternate streamed and copied sources: the sharded writer must handle both.
            list.Add((i % 2 == 0
                ? PendingTensor.Streamed(name, dtype, shape, stream => stream.Write(data))
                : PendingTensor.FromBytes(name, dtype, shape, data), data));
        }
        return list;
    }

    private void WriteSample(int shardCount) =>
        ShardedCheckpointWriter.Write(Directory, SampleTensors().Select(s => s.Tensor).ToList(), shardCount,
            new Dictionary<string, string> { ["format"] = "pt" });

    [Test]
    public void ShardedRoundTrip()
    {
        var sample = SampleTensors();
        ShardedCheckpointWriter.Write(Directory, sample.Select(s => s.Tensor).ToList(), 3,
            new Dictionary<string, string> { ["format"] = "pt" });

        Assert.That(FileNames(), Is.EqualTo(new[]
        {
            "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json",
        }));
        using var checkpoint = SafeTensorsCheckpoint.Open(Directory);
        Assert.That(checkpoint.Names, Is.EqualTo(sample.Select(s => s.Tensor.Name)));
        Assert.That(checkpoint.Files, Has.Count.EqualTo(3));
        Assert.That(checkpoint.Metadata["format"], Is.EqualTo("pt"));
        Assert.That(checkpoint.Metadata["total_size"], Is.EqualTo(sample.Sum(s => s.Data.Length).ToString()));
        var shardOf = new List<int>();
        foreach (var (tensor, data) in sample)
        {
            var info = checkpoint.GetTensor(tensor.Name);
            Assert.That(info.DType, Is.EqualTo(tensor.DType));
            Assert.That(info.Shape, Is.EqualTo(tensor.Shape));
            Assert.That(checkpoint.GetBytes(info).ToArray(), Is.EqualTo(data), tensor.Name);
            shardOf.Add(checkpoint.Files.Select(f => f.FilePath).ToList().IndexOf(info.FilePath));
        }
        Assert.That(shardOf, Is.Ordered, "declaration order is kept across shards");
        Assert.That(shardOf.Distinct().Count(), Is.EqualTo(3));
        foreach (var file in checkpoint.Files)
            Assert.That(file.Metadata["format"], Is.EqualTo("pt"));

        var ushorts = new ushort[16 * 16];
        checkpoint.CopyTo<ushort>(checkpoint.GetTensor("model.layers.1.attn.weight"), ushorts);
        Assert.That(ushorts[0], Is.EqualTo(BitConverter.ToUInt16(sample[3].Data, 0)));
        AssertFails(SafeTensorsError.TensorNotFound, IndexPath, "absent", () => checkpoint.GetTensor("absent"));
    }

    [Test]
    public void ShardsAreBalancedByBytesAndNeverEmpty()
    {
        Assert.That(ShardPlan.Assign([10, 10, 10, 10, 10, 10], 3), Is.EqualTo(new[] { 0, 0, 1, 1, 2, 2 }));
        Assert.That(ShardPlan.Assign([1, 1, 100, 1, 1, 1], 2), Is.EqualTo(new[] { 0, 0, 0, 1, 1, 1 }));
        Assert.That(ShardPlan.Assign([1000, 1, 1], 3), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(ShardPlan.Assign([0, 0, 0, 0], 2), Is.EqualTo(new[] { 0, 0, 0, 1 }));
        // The 7B model's layout: 419 tensors over 2 shards end up within one layer of half each.
        var sizes = new List<long> { 65536L * 4096 * 2 };
        for (int layer = 0; layer < 32; layer++)
            sizes.AddRange([4096L * 4096 * 2, 4096L * 4096 * 2, 4096L * 4096 * 2, 4096L * 4096 * 2, 1024, 1024, 1024, 1024,
                11008L * 4096 * 2, 11008L * 4096 * 2, 11008L * 4096 * 2, 8192, 8192]);
        sizes.AddRange([8192, 65536L * 4096 * 2]);
        var plan = ShardPlan.Assign(sizes, 2);
        long first = sizes.Where((_, i) => plan[i] == 0).Sum(), total = sizes.Sum();
        Assert.That(Math.Abs(first - total / 2.0), Is.LessThan(11008L * 4096 * 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ShardPlan.Assign([1, 2], 3));
    }

    [Test]
    public void OpensASingleFileByPathOrByItsDirectory()
    {
        var writer = new SafeTensorsWriter(new Dictionary<string, string> { ["source"] = "single" });
        writer.Add<float>("w", DType.F32, [2], [1f, 2f]);
        string path = PathOf("only.safetensors");
        writer.WriteTo(path);
        foreach (string open in new[] { path, Directory })
        {
            using var checkpoint = SafeTensorsCheckpoint.Open(open);
            Assert.That(checkpoint.Names, Is.EqualTo(new[] { "w" }));
            Assert.That(checkpoint.Metadata["source"], Is.EqualTo("single"));
            Assert.That(checkpoint.SourcePath, Is.EqualTo(path));
        }
    }

    [Test]
    public void OpensByIndexPath()
    {
        WriteSample(2);
        using var checkpoint = SafeTensorsCheckpoint.Open(IndexPath);
        Assert.That(checkpoint.Names, Has.Count.EqualTo(7));
    }

    [Test]
    public void DirectoryWithoutCheckpoint()
    {
        AssertFails(SafeTensorsError.CheckpointNotFound, Directory, null, () => SafeTensorsCheckpoint.Open(Directory));
    }

    [Test]
    public void DirectoryWithSeveralFilesAndNoIndex()
    {
        WriteSample(2);
        File.Delete(IndexPath);
        var e = AssertFails(SafeTensorsError.AmbiguousCheckpoint, Directory, null, () => SafeTensorsCheckpoint.Open(Directory));
        Assert.That(e.Message, Does.Contain(Shard1).And.Contain(Shard2));
    }

    [Test]
    public void IndexThatIsNotJson()
    {
        WriteSample(2);
        File.WriteAllText(IndexPath, "{\"weight_map\": {\"a\": ");
        AssertFails(SafeTensorsError.InvalidIndex, IndexPath, null, () => SafeTensorsCheckpoint.Open(Directory));
    }

    [Test]
    public void IndexWithoutWeightMap()
    {
        WriteSample(2);
        File.WriteAllText(IndexPath, "{\"metadata\": {}}");
        var e = AssertFails(SafeTensorsError.InvalidIndex, IndexPath, null, () => SafeTensorsCheckpoint.Open(Directory));
        Assert.That(e.Message, Does.Contain("weight_map"));
    }

    [Test]
    public void IndexNamingAShardOutsideItsDirectory()
    {
        WriteSample(2);
        File.WriteAllText(IndexPath, "{\"weight_map\": {\"a\": \"../elsewhere.safetensors\"}}");
        AssertFails(SafeTensorsError.InvalidIndex, IndexPath, "a", () => SafeTensorsCheckpoint.Open(Directory));
    }

    [Test]
    public void IndexListingATensorTwice()
    {
        WriteSample(2);
        File.WriteAllText(IndexPath,
            $"{{\"weight_map\": {{\"model.norm.weight\": \"{Shard2}\", \"model.norm.weight\": \"{Shard2}\"}}}}");
        AssertFails(SafeTensorsError.DuplicateTensor, IndexPath, "model.norm.weight", () => SafeTensorsCheckpoint.Open(Directory));
    }

    [Test]
    public void IndexNamingAMissingShard()
    {
        WriteSample(2);
        File.Delete(PathOf(Shard2));
        var e = AssertFails(SafeTensorsError.MissingShard, IndexPath, IndexedTensorsOf(Shard2)[0],
            () => SafeTensorsCheckpoint.Open(Directory));
        Assert.That(e.Message, Does.Contain(Shard2));
    }

    [Test]
    public void ShardLackingATensorTheIndexPutsInIt()
    {
        WriteSample(2);
        RewriteWeightMap(map => map["ghost.weight"] = Shard1);
        var e = AssertFails(SafeTensorsError.MissingTensorInShard, PathOf(Shard1), "ghost.weight",
            () => SafeTensorsCheckpoint.Open(Directory));
        Assert.That(e.Message, Does.Contain(IndexPath));
    }

    [Test]
    public void IndexPuttingATensorInTheWrongShard()
    {
        WriteSample(2);
        string moved = IndexedTensorsOf(Shard2)[0];
        RewriteWeightMap(map => map[moved] = Shard1);
        var e = AssertFails(SafeTensorsError.MissingTensorInShard, PathOf(Shard1), moved,
            () => SafeTensorsCheckpoint.Open(Directory));
        Assert.That(e.Message, Does.Contain($"it is in {PathOf(Shard2)}"));
    }

    [Test]
    public void TensorInAShardButNotInTheIndexIsAcceptedButNotExposed()
    {
        WriteSample(2);
        string unlisted = IndexedTensorsOf(Shard2)[0];
        RewriteWeightMap(map => map.Remove(unlisted));
        using var checkpoint = SafeTensorsCheckpoint.Open(Directory);
        Assert.That(checkpoint.Names, Has.Count.EqualTo(6).And.No.Member(unlisted));
        Assert.That(checkpoint.TryGetTensor(unlisted, out _), Is.False);
    }

    [Test]
    public void SameTensorInTwoShards()
    {
        foreach (string shard in new[] { Shard1, Shard2 })
        {
            var writer = new SafeTensorsWriter();
            writer.Add("shared", DType.U8, [1], new byte[] { 1 });
            writer.Add("own." + shard, DType.U8, [1], new byte[] { 2 });
            writer.WriteTo(PathOf(shard));
        }
        File.WriteAllText(IndexPath,
            $"{{\"weight_map\": {{\"shared\": \"{Shard1}\", \"own.{Shard1}\": \"{Shard1}\", \"own.{Shard2}\": \"{Shard2}\"}}}}");
        var e = AssertFails(SafeTensorsError.TensorInMultipleShards, PathOf(Shard2), "shared",
            () => SafeTensorsCheckpoint.Open(Directory));
        Assert.That(e.Message, Does.Contain(PathOf(Shard1)));
    }

    [Test]
    public void FailedShardedWriteLeavesNothingBehind()
    {
        var tensors = SampleTensors().Select(s => s.Tensor).ToList();
        tensors.Add(PendingTensor.Streamed("broken", DType.F32, [4], _ => throw new IOException("disk full")));
        var e = Assert.Throws<CoAR.Engine.Managed.Files.OutputWriteException>(() => ShardedCheckpointWriter.Write(Directory, tensors, 2, null));
        Assert.That(e!.Message, Does.Contain("could not write").And.Contain("disk full"));
        Assert.That(FileNames(), Is.Empty);
    }

    [Test]
    public void ShardedWriterRejectsDuplicatesAndTooManyShards()
    {
        var tensors = SampleTensors().Select(s => s.Tensor).ToList();
        Assert.Throws<ArgumentOutOfRangeException>(() => ShardedCheckpointWriter.Write(Directory, tensors, 8, null));
        tensors.Add(tensors[0]);
        Assert.That(Assert.Throws<ArgumentException>(() => ShardedCheckpointWriter.Write(Directory, tensors, 2, null))!.Message,
            Does.Contain(tensors[0].Name));
        Assert.That(FileNames(), Is.Empty);
    }

    private List<string> IndexedTensorsOf(string shard)
    {
        using var index = JsonDocument.Parse(File.ReadAllText(IndexPath));
        return index.RootElement.GetProperty("weight_map").EnumerateObject()
            .Where(p => p.Value.GetString() == shard).Select(p => p.Name).ToList();
    }

    private void RewriteWeightMap(Action<Dictionary<string, string>> edit)
    {
        Dictionary<string, string> map;
        using (var index = JsonDocument.Parse(File.ReadAllText(IndexPath)))
            map = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        edit(map);
        File.WriteAllText(IndexPath, JsonSerializer.Serialize(new { metadata = new { total_size = 1 }, weight_map = map }));
    }
}
