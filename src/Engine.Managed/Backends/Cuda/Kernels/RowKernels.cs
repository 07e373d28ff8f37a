namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/rows.cu: embedding, row gathers and scatters (as bytes or converting), scatter-add, zeroed rows, the KV cache's store and gather.</summary>
internal static class RowKernels
{
    private const string File = "rows.cu";

    public static readonly ByDTypePair<EmbeddingArgs> Embedding = new(File, "embedding");
    public static readonly KernelDescriptor<GatherBytesArgs> GatherRowsBytes = new(File, "gather_rows_bytes");
    public static readonly KernelDescriptor<ScatterBytesArgs> ScatterRowsBytes = new(File, "scatter_rows_bytes");
    public static readonly KernelDescriptor<GatherConvertArgs> GatherRowsBf16F32 = new(File, "gather_rows_bf16_f32");
    public static readonly KernelDescriptor<GatherConvertArgs> GatherRowsF32Bf16 = new(File, "gather_rows_f32_bf16");
    public static readonly KernelDescriptor<ScatterConvertArgs> ScatterRowsBf16F32 = new(File, "scatter_rows_bf16_f32");
    public static readonly KernelDescriptor<ScatterConvertArgs> ScatterRowsF32Bf16 = new(File, "scatter_rows_f32_bf16");
    public static readonly ByDTypePair<ScatterAddArgs> ScatterAddRows = new(File, "scatter_add_rows");
    public static readonly KernelDescriptor<ZeroRowsArgs> ZeroRowsBytes = new(File, "zero_rows_bytes");
    public static readonly ByDType<KvStoreArgs> KvStore = new(File, "kv_store");
    public static readonly ByDTypePair<KvGatherArgs> KvGather = new(File, "kv_gather");

    public struct EmbeddingArgs
    {
        public ulong Out, Table, Ids;
        public int Vocab, D, Vec;
    }

    public struct GatherBytesArgs
    {
        public ulong Out, X, Indices;
        public int Rows;
        public long RowBytes;
        public int Granule;
    }

    public struct ScatterBytesArgs
    {
        public ulong Destination, Source, Indices;
        public int Rows;
        public long RowBytes;
        public int Granule;
    }

    public struct GatherConvertArgs
    {
        public ulong Out, X, Indices;
        public int Rows, D, Vec;
    }

    public struct ScatterConvertArgs
    {
        public ulong Destination, Source, Indices;
        public int Rows, D, Vec;
    }

    public struct ScatterAddArgs
    {
        public ulong Destination, Source, Indices;
        public int N, D, Vec;
    }

    public struct ZeroRowsArgs
    {
        public ulong Destination, Indices;
        public int Rows;
        public long RowBytes;
        public int Granule;
    }

    public struct KvStoreArgs
    {
        public ulong CacheKeys, CacheValues, KeyTags, Keys, Values, Rows, Positions, Tags;
        public int CacheRows, KvHeads, Capacity, Dh, Vec;
    }

    public struct KvGatherArgs
    {
        public ulong Dk, Dv, DKeys, DValues, Rows, Positions;
        public int CacheRows, KvHeads, Capacity, Dh, Vec, Accumulate;
    }
}
