namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/conv2d.cu: the VQGAN's convolution, specialized for 1x1 and 3x3 kernels.</summary>
internal static class Conv2dKernels
{
    private const string File = "conv2d.cu";

    public static readonly KernelDescriptor<ConvArgs> Kernel1x1 = new(File, "conv2d_k1_f32");
    public static readonly KernelDescriptor<ConvArgs> Kernel3x3 = new(File, "conv2d_k3_f32");
    public static readonly KernelDescriptor<ConvArgs> AnyKernel = new(File, "conv2d_any_f32");

    public struct ConvArgs
    {
        public ulong Y, X, Weight;
        public int WeightBf16;
        public ulong Bias;
        public int BiasType, Cin, H, W, Cout, Kh, Kw, Ho, Wo, Stride, PadTop, PadLeft;
    }
}
