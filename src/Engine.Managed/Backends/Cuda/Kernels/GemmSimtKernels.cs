namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/gemm_simt.cu: the fp32 SIMT GEMM for F32 weights, "gemm_simt_{a}" for a BF16 or F32 A.</summary>
internal static class GemmSimtKernels
{
    private const string File = "gemm_simt.cu";

    public static readonly ByDType<SimtArgs> Simt = new(File, "gemm_simt");

    public struct SimtArgs
    {
        public ulong A, B, Y;
        public int M, N, K;
        public long BStrideK, BStrideN;
        public int OutF32, Accumulate;
    }
}
