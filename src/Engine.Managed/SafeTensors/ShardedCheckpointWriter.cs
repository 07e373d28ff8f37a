using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Managed.SafeTensors;

/// <summary>
/// Writes a sharded checkpoint: model-0000i-of-0000N.safetensors shards, balanced by bytes with declaration order kept,
/// and model.safetensors.index.json ({"metadata": {"total_size": bytes, ...}, "weight_map": {tensor: shard}}).
/// </summary>
public static class ShardedCheckpointWriter
{
    public const string TotalSizeKey = "total_size";

    public static string ShardFileName(int shardIndex, int shardCount) =>
        $"model-{shardIndex + 1:D5}-of-{shardCount:D5}.safetensors";

    /// <summary>
    /// Writes every file to a temp file first; only when all are written are they renamed into place, the index last.
    /// </summary>
    /// <param name="metadata">each shard's "__metadata__", and added to the index's "metadata" beside total_size</param>
    public static void Write(string directory, IReadOnlyList<PendingTensor> tensors, int shardCount,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (metadata?.ContainsKey(TotalSizeKey) == true)
            throw new ArgumentException($"metadata must not set '{TotalSizeKey}': the writer computes it", nameof(metadata));
        int[] plan = ShardPlan.Assign(tensors.Select(t => t.ByteLength).ToList(), shardCount);
        var shards = Enumerable.Range(0, shardCount).Select(_ => new SafeTensorsWriter(metadata)).ToArray();
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < tensors.Count; i++)
        {
            if (!names.Add(tensors[i].Name))
                throw new ArgumentException($"tensor '{tensors[i].Name}' is declared twice", nameof(tensors));
            shards[plan[i]].Add(tensors[i]);
        }

        string fullDirectory = Path.GetFullPath(directory);
        Directory.CreateDirectory(fullDirectory);
        var pending = new List<(string Temp, string Final)>();
        try
        {
            for (int s = 0; s < shardCount; s++)
            {
                string final = Path.Combine(fullDirectory, ShardFileName(s, shardCount));
                pending.Add((shards[s].WriteTemporary(final), final));
            }
            string indexPath = Path.Combine(fullDirectory, SafeTensorsCheckpoint.IndexFileName);
            pending.Add((AtomicFile.WriteTemporary(indexPath, BuildIndex(tensors, plan, shardCount, metadata)), indexPath));
            // The index goes last so that it never names a shard that is not in place yet.
            while (pending.Count > 0)
            {
                AtomicFile.Commit(pending[0].Temp, pending[0].Final);
                pending.RemoveAt(0);
            }
        }
        finally
        {
            foreach (var (temp, _) in pending)
                AtomicFile.TryDelete(temp);
        }
    }

    private static byte[] BuildIndex(IReadOnlyList<PendingTensor> tensors, int[] plan, int shardCount,
        IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer,
                   new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber(TotalSizeKey, tensors.Sum(t => t.ByteLength));
            foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
                json.WriteString(key, value);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            for (int i = 0; i < tensors.Count; i++)
                json.WriteString(tensors[i].Name, ShardFileName(plan[i], shardCount));
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
