namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/gemm_decode.cu: the weight-streaming GEMV for decode batches, "gemv_nt_{x}_{w}" for BF16/F32 x and W.</summary>
internal static class GemmDecodeKernels
{
    private const string File = "gemm_decode.cu";

    public static readonly ByDTypePair<GemvArgs> Gemv = new(File, "gemv_nt");

    public struct GemvArgs
    {
        public ulong X, W, Y;
        public int M, N, K, OutF32, Accumulate, Vec;
    }
}
