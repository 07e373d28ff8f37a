namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/pointwise.cu: SwiGLU, its input gradients, and addition.</summary>
internal static class PointwiseKernels
{
    private const string File = "pointwise.cu";

    public static readonly ByDType<SwiGluArgs> SwiGluForward = new(File, "swiglu_fwd");
    public static readonly ByDType<SwiGluBackwardArgs> SwiGluBackward = new(File, "swiglu_bwd");
    public static readonly ByDType<AddArgs> Add = new(File, "add");

    public struct SwiGluArgs
    {
        public ulong Out, Gate, Up;
        public long N;
        public int Vec;
    }

    public struct AddArgs
    {
        public ulong Y, A, B;
        public long N;
        public int Vec;
    }

    public struct SwiGluBackwardArgs
    {
        public ulong DGate, DUp, Gate, Up, DOut;
        public long N;
        public int Vec;
    }
}
