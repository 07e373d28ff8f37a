namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/attention_backward.cu: each cache row's query span, Delta = rowsum(dO * O), then dq and dK/dV.</summary>
internal static class AttentionBackwardKernels
{
    private const string File = "attention_backward.cu";

    public static readonly KernelDescriptor<SpanArgs> Spans = new(File, "attention_bwd_spans");
    public static readonly KernelDescriptor<DeltaArgs> Delta = new(File, "attention_bwd_delta_bf16");
    public static readonly AttentionVariants<DqArgs> Dq = new(File, "attention_bwd_dq");
    public static readonly AttentionVariants<DkdvArgs> Dkdv = new(File, "attention_bwd_dkdv");

    public struct SpanArgs
    {
        public ulong Rows, Positions;
        public int Tokens, CacheRows, Capacity;
        public ulong Spans;
    }

    public struct DeltaArgs
    {
        public ulong Out, DOut, Delta;
        public int Count, Dh;
    }

    public struct DqArgs
    {
        public ulong Q, Keys, Values, KeyTags, Rows, Positions, Tags, Lse, Delta, DOut, Dq;
        public int DqF32, Tokens, Heads, KvHeads, CacheRows, Capacity, Dh;
        public float Scale, ScaleLog2;
    }

    public struct DkdvArgs
    {
        public ulong Q, Keys, Values, KeyTags, Rows, Positions, Tags, Lse, Delta, DOut, Spans, DKeys, DValues;
        public int DKeysF32, DValuesF32, Tokens, Heads, KvHeads, CacheRows, Capacity, Dh;
        public float Scale, ScaleLog2;
    }
}
