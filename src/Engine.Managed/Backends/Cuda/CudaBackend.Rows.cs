using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.RowKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Row moves by index (kernels/rows.cu): embedding, gather/scatter (F32 and BF16 rows convert into each other, so an
/// F32 context table injects into a BF16 residual and a BF16 gradient gathers into an F32 context gradient),
/// scatter-add, zeroed rows, and the KV cache's store and backward gather. Index values are the caller's contract
/// (see the class remarks): unlike the CPU backend, distinctness and bounds of device indices are not checked.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>Threads per row of the row-move kernels (a 4096-wide bf16 row is 512 vectors: 4 per thread).</summary>
    private const int MoveThreads = 128;

    /// <summary>Threads per (token, head) of the KV kernels (a 128-dim bf16 head is 16 vectors).</summary>
    private const int KvThreads = 32;

    /// <summary>output[t, :] = table[ids[t], :]; an id outside the vocabulary gives a NaN row (the CPU throws).</summary>
    public void Embedding(Tensor table, Tensor ids, Tensor output)
    {
        const string op = "Embedding";
        CheckFloat(op, "table", table);
        CheckI32(op, "ids", ids);
        CheckFloat(op, "output", output);
        var (vocab, d, t) = OpShapes.Embedding(op, table, ids, output);
        if (t == 0 || d == 0) return;
        var args = new EmbeddingArgs
        {
            Out = Ptr(output), Table = Ptr(table), Ids = Ptr(ids), Vocab = vocab, D = d, Vec = Flag(d % 8 == 0 && Aligned16(table, output)),
        };
        Launch(RowKernels.Embedding.For(table.DType, output.DType), t, MoveThreads, ref args);
    }

    /// <summary>
    /// output[i, :] = x[indices[i], :]: any dtype into the same dtype, or F32 and BF16 into each other. An index outside
    /// x's rows gives a row of 0xff bytes (NaN for floats) where the CPU throws.
    /// </summary>
    public void GatherRows(Tensor x, Tensor indices, Tensor output)
    {
        const string op = "GatherRows";
        OpCheck.Backend(this, op, "x", x);
        CheckI32(op, "indices", indices);
        OpCheck.Backend(this, op, "output", output);
        CheckRowTypes(op, "x", x, "output", output);
        var (rows, d, n) = OpShapes.GatherRows(op, x, indices, output);
        if (n == 0 || d == 0) return;
        // One block per output row; equal dtypes move as bytes, F32/BF16 pairs convert.
        if (x.DType == output.DType)
        {
            long rowBytes = (long)d * x.DType.SizeOf();
            var bytes = new GatherBytesArgs
            {
                Out = Ptr(output), X = Ptr(x), Indices = Ptr(indices), Rows = rows, RowBytes = rowBytes, Granule = Granule(rowBytes, x.Address | output.Address),
            };
            Launch(RowKernels.GatherRowsBytes, n, MoveThreads, ref bytes);
            return;
        }
        var args = new GatherConvertArgs
        {
            Out = Ptr(output), X = Ptr(x), Indices = Ptr(indices), Rows = rows, D = d, Vec = Flag(d % 8 == 0 && Aligned16(x, output)),
        };
        Launch(x.DType == DType.BF16 ? RowKernels.GatherRowsBf16F32 : RowKernels.GatherRowsF32Bf16, n, MoveThreads, ref args);
    }

    /// <summary>
    /// destination[indices[i], :] = source[i, :] (context-token injection): any dtype into the same dtype, or F32 and
    /// BF16 into each other. Indices must be distinct and inside the destination (not checked: the caller's contract;
    /// an index outside is dropped).
    /// </summary>
    public void ScatterRows(Tensor source, Tensor indices, Tensor destination)
    {
        const string op = "ScatterRows";
        CheckScatterTypes(op, source, indices, destination);
        CheckRowTypes(op, "source", source, "destination", destination);
        var (n, d) = OpShapes.ScatterRows(op, source, indices, destination);
        if (n == 0 || d == 0) return;
        // One block per source row; equal dtypes move as bytes, F32/BF16 pairs convert.
        int rows = destination.Dim(0);
        if (source.DType == destination.DType)
        {
            long rowBytes = (long)d * source.DType.SizeOf();
            var bytes = new ScatterBytesArgs
            {
                Destination = Ptr(destination), Source = Ptr(source), Indices = Ptr(indices), Rows = rows, RowBytes = rowBytes,
                Granule = Granule(rowBytes, source.Address | destination.Address),
            };
            Launch(RowKernels.ScatterRowsBytes, n, MoveThreads, ref bytes);
            return;
        }
        var args = new ScatterConvertArgs
        {
            Destination = Ptr(destination), Source = Ptr(source), Indices = Ptr(indices), Rows = rows, D = d,
            Vec = Flag(d % 8 == 0 && Aligned16(source, destination)),
        };
        Launch(source.DType == DType.BF16 ? RowKernels.ScatterRowsBf16F32 : RowKernels.ScatterRowsF32Bf16, n, MoveThreads, ref args);
    }

    /// <summary>
    /// destination[indices[i], :] += source[i, :], F32 or BF16 on either side; repeated indices add up in index order
    /// (an F32 destination gets the CPU's result bit for bit). An index outside the destination is dropped.
    /// </summary>
    public void ScatterAddRows(Tensor source, Tensor indices, Tensor destination)
    {
        const string op = "ScatterAddRows";
        CheckFloat(op, "source", source);
        CheckFloat(op, "destination", destination);
        CheckScatterTypes(op, source, indices, destination);
        var (n, d) = OpShapes.ScatterRows(op, source, indices, destination);
        int rows = destination.Dim(0);
        if (n == 0 || d == 0 || rows == 0) return;
        var args = new ScatterAddArgs
        {
            Destination = Ptr(destination), Source = Ptr(source), Indices = Ptr(indices), N = n, D = d,
            Vec = Flag(d % 8 == 0 && Aligned16(source, destination)),
        };
        Launch(RowKernels.ScatterAddRows.For(source.DType, destination.DType), rows, MoveThreads, ref args);
    }

    /// <summary>destination[indices[i], :] = 0 for any dtype; an index outside the destination is dropped.</summary>
    public void ZeroRows(Tensor indices, Tensor destination)
    {
        const string op = "ZeroRows";
        CheckI32(op, "indices", indices);
        OpCheck.Backend(this, op, "destination", destination);
        var (n, rows) = OpShapes.ZeroRows(op, indices, destination);
        long rowBytes = destination.RowElements * destination.DType.SizeOf();
        if (n == 0 || rowBytes == 0) return;
        var args = new ZeroRowsArgs
        {
            Destination = Ptr(destination), Indices = Ptr(indices), Rows = rows, RowBytes = rowBytes,
            Granule = Granule(rowBytes, destination.Address),
        };
        Launch(RowKernels.ZeroRowsBytes, n, MoveThreads, ref args);
    }

    /// <summary>Keys and values into the cache at each token's (row, position), and the tokens' tags; a slot outside the cache is dropped.</summary>
    public void KvStore(Tensor keys, Tensor values, TokenMap tokens, KvLayer cache)
    {
        const string op = "KvStore";
        CheckFloat(op, "keys", keys);
        CheckSameType(op, "values", values, keys);
        CheckSameType(op, "cache.Keys", cache.Keys, keys);
        CheckSameType(op, "cache.Values", cache.Values, keys);
        OpCheck.Backend(this, op, "cache.KeyTags", cache.KeyTags);
        CheckTokensBackend(op, tokens);
        var (t, kvHeads, dh) = OpShapes.KvStore(op, keys, values, tokens, cache);
        if (t == 0 || kvHeads == 0) return;
        var args = new KvStoreArgs
        {
            CacheKeys = Ptr(cache.Keys), CacheValues = Ptr(cache.Values), KeyTags = Ptr(cache.KeyTags), Keys = Ptr(keys), Values = Ptr(values),
            Rows = Ptr(tokens.Rows), Positions = Ptr(tokens.Positions), Tags = Ptr(tokens.Tags), CacheRows = cache.Rows, KvHeads = kvHeads,
            Capacity = cache.Capacity, Dh = dh, Vec = Flag(dh % 8 == 0 && Aligned16(keys, values) && Aligned16(cache.Keys, cache.Values)),
        };
        Launch(RowKernels.KvStore.For(keys.DType), new Dim3((uint)t, (uint)kvHeads), KvThreads, ref args);
    }

    /// <summary>dk[t] (+)= dKeys[row[t], :, pos[t], :] and dv likewise; F32 or BF16 on either side; a slot outside the cache gives NaN.</summary>
    public void KvGather(Tensor dKeys, Tensor dValues, TokenMap tokens, Tensor dk, Tensor dv, bool accumulate = false)
    {
        const string op = "KvGather";
        CheckFloat(op, "dKeys", dKeys);
        CheckSameType(op, "dValues", dValues, dKeys);
        CheckFloat(op, "dk", dk);
        CheckSameType(op, "dv", dv, dk);
        CheckTokensBackend(op, tokens);
        var (t, kvHeads, dh) = OpShapes.KvGather(op, dKeys, dValues, tokens, dk, dv);
        if (t == 0 || kvHeads == 0) return;
        var args = new KvGatherArgs
        {
            Dk = Ptr(dk), Dv = Ptr(dv), DKeys = Ptr(dKeys), DValues = Ptr(dValues), Rows = Ptr(tokens.Rows), Positions = Ptr(tokens.Positions),
            CacheRows = dKeys.Dim(0), KvHeads = kvHeads, Capacity = dKeys.Dim(2), Dh = dh,
            Vec = Flag(dh % 8 == 0 && Aligned16(dKeys, dValues) && Aligned16(dk, dv)), Accumulate = Flag(accumulate),
        };
        Launch(RowKernels.KvGather.For(dKeys.DType, dk.DType), new Dim3((uint)t, (uint)kvHeads), KvThreads, ref args);
    }

    /// <summary>Source and destination on this backend, indices I32 (their shapes: <see cref="OpShapes"/>).</summary>
    private void CheckScatterTypes(string op, Tensor source, Tensor indices, Tensor destination)
    {
        OpCheck.Backend(this, op, "source", source);
        CheckI32(op, "indices", indices);
        OpCheck.Backend(this, op, "destination", destination);
    }

    /// <summary>Rows move between equal dtypes (as bytes) or between F32 and BF16 (converted).</summary>
    private static void CheckRowTypes(string op, string sourceName, Tensor source, string destinationName, Tensor destination)
    {
        bool converts = (source.DType is DType.F32 or DType.BF16) && (destination.DType is DType.F32 or DType.BF16);
        if (!converts && source.DType != destination.DType)
            OpCheck.DType(op, destinationName, destination, source.DType);
    }

    private void CheckTokensBackend(string op, TokenMap tokens)
    {
        OpCheck.Backend(this, op, "tokens.Rows", tokens.Rows);
        OpCheck.Backend(this, op, "tokens.Positions", tokens.Positions);
        OpCheck.Backend(this, op, "tokens.Tags", tokens.Tags);
    }

    /// <summary>The widest access (16, 4 or 1 bytes) that divides the row length and the base addresses.</summary>
    private static int Granule(long rowBytes, nint addresses) =>
        rowBytes % 16 == 0 && (addresses & 15) == 0 ? 16 : rowBytes % 4 == 0 && (addresses & 3) == 0 ? 4 : 1;
}
