namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/attention.cu: the FlashAttention-2 prefill forward over the KV cache.</summary>
internal static class AttentionKernels
{
    private const string File = "attention.cu";

    public static readonly AttentionVariants<ForwardArgs> Forward = new(File, "attention_fwd");

    public struct ForwardArgs
    {
        public ulong Q, Keys, Values, KeyTags, Rows, Positions, Tags, Out, Lse;
        public int Tokens, Heads, KvHeads, CacheRows, Capacity, Dh;
        public float ScaleLog2;
    }
}
