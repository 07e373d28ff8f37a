namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/losses.cu: softmax cross-entropy and KL divergence over F32 logits rows, with their gradients.</summary>
internal static class LossKernels
{
    private const string File = "losses.cu";

    public static readonly KernelDescriptor<CrossEntropyArgs> SoftmaxCrossEntropy = new(File, "softmax_xent_f32");
    public static readonly KernelDescriptor<KlArgs> KlDivergence = new(File, "kl_div_f32");

    public struct CrossEntropyArgs
    {
        public ulong Losses, LogSumExp, DLogits, Logits, Targets;
        public int V;
        public float GradScale, ZLossScale;
        public int Vec;
    }

    public struct KlArgs
    {
        public ulong Losses, DLogits, Reference, Logits;
        public int V;
        public float GradScale;
        public int Vec;
    }
}
