namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/attention_decode.cu: split-K attention for decode steps, then the combine of its partial results.</summary>
internal static class AttentionDecodeKernels
{
    private const string File = "attention_decode.cu";

    public static readonly AttentionVariants<DecodeArgs> Decode = new(File, "attention_decode");
    public static readonly KernelDescriptor<CombineArgs> Combine = new(File, "attention_decode_combine_bf16");

    public struct DecodeArgs
    {
        public ulong Q, Keys, Values, KeyTags, Rows, Positions, Tags, PartO, PartMl;
        public int Tokens, Heads, KvHeads, CacheRows, Capacity, Dh;
        public float ScaleLog2;
        public int Chunks;
    }

    public struct CombineArgs
    {
        public ulong PartO, PartMl, Rows, Positions, Out, Lse;
        public int Tokens, Heads, CacheRows, Capacity, Dh, Chunks;
    }
}
