using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>
/// Keys and values of every layer for a fixed number of rows (sequences) and positions per row, plus the identity
/// tag of every cached position. A row's position p holds whatever token was last run at (row, p).
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _owned;

    public KvCache(IBackend backend, ChameleonConfig config, int rows, int capacity)
    {
        if (rows <= 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, "a KV cache needs at least one row");
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a KV cache needs at least one position");
        Rows = rows;
        Capacity = capacity;
        var owned = new List<Tensor>();
        try
        {
            var tags = backend.Allocate(DType.I32, [rows, capacity], "kv.tags");
            owned.Add(tags);
            backend.Upload<int>(new int[rows * capacity], tags);
            Layers = new KvLayer[config.NumLayers];
            for (int i = 0; i < config.NumLayers; i++)
            {
                var k = backend.Allocate(backend.ActivationType, [rows, config.NumKvHeads, capacity, config.HeadDim], $"kv.{i}.k");
                owned.Add(k);
                var v = backend.Allocate(backend.ActivationType, [rows, config.NumKvHeads, capacity, config.HeadDim], $"kv.{i}.v");
                owned.Add(v);
                Layers[i] = new KvLayer(k, v, tags);
            }
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
        _owned = owned.ToArray();
    }

    public int Rows { get; }
    public int Capacity { get; }
    public KvLayer[] Layers { get; }
    public long Bytes => _owned.Sum(t => t.ByteLength);

    /// <summary>Bytes a cache of this size takes, for memory planning before anything is allocated.</summary>
    public static long BytesFor(ChameleonConfig config, int rows, int capacity, DType dtype) =>
        2L * config.NumLayers * rows * capacity * config.KvDim * dtype.SizeOf() + 4L * rows * capacity;

    public void Dispose()
    {
        foreach (var t in _owned) t.Dispose();
    }
}
