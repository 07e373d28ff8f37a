namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/norms.cu: RMSNorm and the per-head LayerNorm, forward and input gradient.</summary>
internal static class NormKernels
{
    private const string File = "norms.cu";

    public static readonly ByDType<RmsNormArgs> RmsNormForward = new(File, "rmsnorm_fwd");
    public static readonly ByDType<RmsNormBackwardArgs> RmsNormBackward = new(File, "rmsnorm_bwd");
    public static readonly ByDType<HeadNormArgs> HeadNormForward = new(File, "headnorm_fwd");
    public static readonly ByDType<HeadNormBackwardArgs> HeadNormBackward = new(File, "headnorm_bwd");

    public struct RmsNormArgs
    {
        public ulong Y, X, Weight;
        public int WeightBf16, D;
        public float Eps;
        public int Vec;
    }

    public struct HeadNormArgs
    {
        public ulong Y, X, Gamma, Beta;
        public int WeightBf16;
        public long Rows;
        public int Heads, Dh, HeadsPerGroup;
        public float Eps;
        public int Vec;
    }

    public struct RmsNormBackwardArgs
    {
        public ulong Dx, X, Dy;
        public int DyBf16;
        public ulong Weight;
        public int WeightBf16, D;
        public float Eps;
        public int Vec, Accumulate;
    }

    public struct HeadNormBackwardArgs
    {
        public ulong Dx, X, Dy;
        public int DyBf16;
        public ulong Gamma;
        public int WeightBf16;
        public long Rows;
        public int Heads, Dh, HeadsPerGroup;
        public float Eps;
        public int Vec;
    }
}
