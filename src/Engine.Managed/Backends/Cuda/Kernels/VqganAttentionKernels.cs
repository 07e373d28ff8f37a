namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/vqgan_attention.cu: the VQGAN's single-head attention over spatial positions.</summary>
internal static class VqganAttentionKernels
{
    private const string File = "vqgan_attention.cu";

    public static readonly KernelDescriptor<SpatialAttentionArgs> SpatialAttention = new(File, "spatial_attention_f32");

    public struct SpatialAttentionArgs
    {
        public ulong Y, Q, K, V;
        public int Channels, Positions;
        public float Scale;
        public int Vec;
    }
}
