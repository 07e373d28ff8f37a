using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.GemmAttentionLaunch;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.AttentionBackwardKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.AttentionDecodeKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.AttentionKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Launches the attention kernels for <see cref="IBackend.Attention"/> and <see cref="IBackend.AttentionBackward"/>.
/// The caller has checked shapes against the cache and the token map. The token map lives on the device and is
/// never read back: the kernels read each token's row, position and tag themselves (skipping a token whose slot is
/// outside the cache) and grids are sized by the cache's capacity, not by positions.
/// <para>Forward path: with at most 2 queries per cache row on average (T &lt;= 2 x rows: a decode step, cond and
/// uncond rows together; T also within the 65535 of a grid's z) the split-K decode kernel (attention_decode.cu: 256 keys per CTA, then a combine kernel
/// over fp32 scratch), which reads each row's KV once per query at full bandwidth; otherwise the FlashAttention-2
/// prefill kernel (attention.cu), which reads the KV of a row once per 64 packed queries with tensor cores.
/// Both are correct for any token map; the choice is only about speed.</para>
/// <para>Head dims up to 128: the DMAX 64 variants for dh &lt;= 64, DMAX 128 above. The 16-byte (cp.async) loads
/// need dh % 8 == 0 and 16-byte aligned tensors; otherwise the "unaligned" variants load element by element.</para>
/// <para>Backward: row spans and Delta = rowsum(dO * O) into scratch, then one kernel for dq (per query tile) and one
/// for dK/dV (per owned key tile; adds into dKeys/dValues in their dtype). No atomics on results: deterministic.</para>
/// </summary>
internal static class CudaAttention
{
    public const int MaxHeadDim = 128;

    private const float Log2E = 1.4426950408889634f;
    private const int Threads = 128;
    private const int QueryTile = 64;
    private const int KeyTile = 64;
    private const int DqKeyTile = 32;
    private const int ScanTile = 32;
    private const int DecodeChunk = 256;
    private const int MaxGridZ = 65535;

    /// <summary>
    /// q [T, H, Dh] BF16; cache.Keys/Values [R, Hkv, S, Dh] BF16, cache.KeyTags [R, S] I32; output [T, H, Dh] BF16;
    /// logSumExp [T, H] F32 or null.
    /// </summary>
    public static void Forward(KernelLibrary lib, CudaStream? stream, Tensor q, KvLayer cache, TokenMap tokens, float scale,
        Tensor output, Tensor? logSumExp)
    {
        const string op = "Attention";
        int dh = CheckInputs(op, q, cache);
        OpCheck.DType(op, "output", output, DType.BF16);
        if (logSumExp is not null) OpCheck.DType(op, "logSumExp", logSumExp, DType.F32);
        int t = q.Dim(0), heads = q.Dim(1);
        if (t == 0) return;
        int dmax = dh <= 64 ? 64 : 128;
        bool vec = dh % 8 == 0 && Aligned16(q) && Aligned16(cache.Keys) && Aligned16(cache.Values) && Aligned16(output);
        ulong lse = logSumExp is null ? 0 : Address(logSumExp);
        float scaleLog2 = scale * Log2E;

        if (t <= 2 * cache.Rows && t <= MaxGridZ)
        {
            int chunks = (cache.Capacity + DecodeChunk - 1) / DecodeChunk;
            long parts = (long)t * heads * chunks;
            long partOBytes = Align16(parts * dh * sizeof(float));
            ulong partO = lib.Scratch("attention.decode", partOBytes + parts * 2 * sizeof(float));
            var args = new DecodeArgs
            {
                Q = Address(q), Keys = Address(cache.Keys), Values = Address(cache.Values), KeyTags = Address(cache.KeyTags),
                Rows = Address(tokens.Rows), Positions = Address(tokens.Positions), Tags = Address(tokens.Tags),
                PartO = partO, PartMl = partO + (ulong)partOBytes,
                Tokens = t, Heads = heads, KvHeads = cache.KvHeads, CacheRows = cache.Rows, Capacity = cache.Capacity,
                Dh = dh, ScaleLog2 = scaleLog2, Chunks = chunks,
            };
            lib.Get(AttentionDecodeKernels.Decode.For(dmax, vec))
                .Launch(new Dim3((uint)chunks, (uint)heads, (uint)t), Threads, 0, stream, ref args);
            var combine = new CombineArgs
            {
                PartO = args.PartO, PartMl = args.PartMl, Rows = args.Rows, Positions = args.Positions, Out = Address(output),
                Lse = lse, Tokens = t, Heads = heads, CacheRows = cache.Rows, Capacity = cache.Capacity, Dh = dh, Chunks = chunks,
            };
            lib.Get(AttentionDecodeKernels.Combine)
                .Launch(new Dim3((uint)heads, (uint)t), Threads, 0, stream, ref combine);
            return;
        }

        var forward = new ForwardArgs
        {
            Q = Address(q), Keys = Address(cache.Keys), Values = Address(cache.Values), KeyTags = Address(cache.KeyTags),
            Rows = Address(tokens.Rows), Positions = Address(tokens.Positions), Tags = Address(tokens.Tags),
            Out = Address(output), Lse = lse, Tokens = t, Heads = heads, KvHeads = cache.KvHeads, CacheRows = cache.Rows,
            Capacity = cache.Capacity, Dh = dh, ScaleLog2 = scaleLog2,
        };
        // Q, K and V tiles of 64 x DMAX bf16, then the tile's key tags, query rows, positions, tags and the pass.
        int shared = 3 * QueryTile * dmax * 2 + 260 * sizeof(int);
        var kernel = lib.Get(AttentionKernels.Forward.For(dmax, vec));
        AttentionSharedMemory.Ensure(kernel.Function, shared);
        kernel.Launch(new Dim3(Blocks(t, QueryTile), (uint)heads), Threads, shared, stream, ref forward);
    }

    /// <summary>
    /// q, output, dOutput [T, H, Dh] BF16; logSumExp [T, H] F32 from the forward; dq [T, H, Dh] BF16 or F32,
    /// overwritten; dKeys, dValues [R, Hkv, S, Dh] BF16 or F32, added into (the caller zeroes them).
    /// </summary>
    public static void Backward(KernelLibrary lib, CudaStream? stream, Tensor q, KvLayer cache, TokenMap tokens, float scale,
        Tensor output, Tensor logSumExp, Tensor dOutput, Tensor dq, Tensor dKeys, Tensor dValues)
    {
        const string op = "AttentionBackward";
        int dh = CheckInputs(op, q, cache);
        OpCheck.DType(op, "output", output, DType.BF16);
        OpCheck.DType(op, "dOutput", dOutput, DType.BF16);
        OpCheck.DType(op, "logSumExp", logSumExp, DType.F32);
        OpCheck.DType(op, "dq", dq, DType.BF16, DType.F32);
        OpCheck.DType(op, "dKeys", dKeys, DType.BF16, DType.F32);
        OpCheck.DType(op, "dValues", dValues, DType.BF16, DType.F32);
        int t = q.Dim(0), heads = q.Dim(1);
        if (t == 0) return;
        int dmax = dh <= 64 ? 64 : 128;
        bool vec = dh % 8 == 0 && Aligned16(q) && Aligned16(dOutput) && Aligned16(cache.Keys) && Aligned16(cache.Values);

        long spansBytes = Align16((long)cache.Rows * 3 * sizeof(int));
        ulong spans = lib.Scratch("attention.backward", spansBytes + (long)t * heads * sizeof(float));
        ulong delta = spans + (ulong)spansBytes;
        var spanArgs = new SpanArgs
        {
            Rows = Address(tokens.Rows), Positions = Address(tokens.Positions), Tokens = t, CacheRows = cache.Rows,
            Capacity = cache.Capacity, Spans = spans,
        };
        lib.Get(AttentionBackwardKernels.Spans).Launch(1, 1024, 0, stream, ref spanArgs);
        var deltaArgs = new DeltaArgs { Out = Address(output), DOut = Address(dOutput), Delta = delta, Count = t * heads, Dh = dh };
        lib.Get(AttentionBackwardKernels.Delta).Launch(Blocks((long)t * heads, 256 / 32), 256, 0, stream, ref deltaArgs);

        var dqArgs = new DqArgs
        {
            Q = Address(q), Keys = Address(cache.Keys), Values = Address(cache.Values), KeyTags = Address(cache.KeyTags),
            Rows = Address(tokens.Rows), Positions = Address(tokens.Positions), Tags = Address(tokens.Tags),
            Lse = Address(logSumExp), Delta = delta, DOut = Address(dOutput), Dq = Address(dq), DqF32 = Flag(dq.DType == DType.F32),
            Tokens = t, Heads = heads, KvHeads = cache.KvHeads, CacheRows = cache.Rows, Capacity = cache.Capacity, Dh = dh,
            Scale = scale, ScaleLog2 = scale * Log2E,
        };
        // Q and dO tiles of 64 queries, K and V tiles of 32 keys, then key tags, the query tile (rows, positions,
        // tags, the pass) and each query's lse and Delta.
        int dqShared = (2 * QueryTile + 2 * DqKeyTile) * dmax * 2 + (DqKeyTile + 5 * QueryTile + 2) * sizeof(int);
        var dqKernel = lib.Get(AttentionBackwardKernels.Dq.For(dmax, vec));
        AttentionSharedMemory.Ensure(dqKernel.Function, dqShared);
        dqKernel.Launch(new Dim3(Blocks(t, QueryTile), (uint)heads), Threads, dqShared, stream, ref dqArgs);

        var dkdvArgs = new DkdvArgs
        {
            Q = dqArgs.Q, Keys = dqArgs.Keys, Values = dqArgs.Values, KeyTags = dqArgs.KeyTags, Rows = dqArgs.Rows,
            Positions = dqArgs.Positions, Tags = dqArgs.Tags, Lse = dqArgs.Lse, Delta = delta, DOut = dqArgs.DOut, Spans = spans,
            DKeys = Address(dKeys), DValues = Address(dValues), DKeysF32 = Flag(dKeys.DType == DType.F32),
            DValuesF32 = Flag(dValues.DType == DType.F32), Tokens = t, Heads = heads, KvHeads = cache.KvHeads,
            CacheRows = cache.Rows, Capacity = cache.Capacity, Dh = dh, Scale = scale, ScaleLog2 = dqArgs.ScaleLog2,
        };
        // K and V tiles of 64 keys, Q and dO tiles of 32 queries, then key tags and four per-query arrays.
        int dkdvShared = (2 * KeyTile + 2 * ScanTile) * dmax * 2 + (KeyTile + 4 * ScanTile) * sizeof(int);
        var dkdvKernel = lib.Get(AttentionBackwardKernels.Dkdv.For(dmax, vec));
        AttentionSharedMemory.Ensure(dkdvKernel.Function, dkdvShared);
        dkdvKernel.Launch(new Dim3(Blocks(cache.Capacity, KeyTile), (uint)cache.KvHeads, (uint)cache.Rows), Threads, dkdvShared,
            stream, ref dkdvArgs);
    }

    /// <summary>Checks the dtypes every attention kernel reads and returns the head dimension.</summary>
    private static int CheckInputs(string op, Tensor q, KvLayer cache)
    {
        OpCheck.DType(op, "q", q, DType.BF16);
        OpCheck.DType(op, "cache.Keys", cache.Keys, DType.BF16);
        OpCheck.DType(op, "cache.Values", cache.Values, DType.BF16);
        int dh = q.Dim(2);
        if (dh < 1 || dh > MaxHeadDim)
            throw new ArgumentException($"{op}: head dimension {dh} of 'q' ({q.Describe()}) is not supported on CUDA; expected 1..{MaxHeadDim}");
        return dh;
    }

    private static long Align16(long bytes) => (bytes + 15) & ~15L;
}
