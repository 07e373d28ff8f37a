namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>
/// kernels/weight_gradient.cu: the tensor-core weight gradient dW (+)= dy^T x (fp32 dW), in 128x128 and 64x64 tiles,
/// with cp.async or element loads, dy and x both BF16 or both F32.
/// </summary>
internal static class WeightGradientKernels
{
    private const string File = "weight_gradient.cu";

    // Indexed by Index(small tiles, unaligned, f32 operands).
    private static readonly KernelDescriptor<WeightGradientArgs>[] TensorCore = Build();

    public static KernelDescriptor<WeightGradientArgs> For(bool smallTiles, bool unaligned, bool f32) =>
        TensorCore[Index(smallTiles, unaligned, f32)];

    private static int Index(bool small, bool unaligned, bool f32) => (small ? 4 : 0) | (unaligned ? 2 : 0) | (f32 ? 1 : 0);

    private static KernelDescriptor<WeightGradientArgs>[] Build()
    {
        var kernels = new KernelDescriptor<WeightGradientArgs>[8];
        foreach (bool small in new[] { false, true })
            foreach (bool unaligned in new[] { false, true })
                foreach (bool f32 in new[] { false, true })
                    kernels[Index(small, unaligned, f32)] = new(File,
                        $"weight_gradient_{(small ? 64 : 128)}{(unaligned ? "_unaligned" : "")}_{(f32 ? "f32" : "bf16")}");
        return kernels;
    }

    public struct WeightGradientArgs
    {
        public ulong Dy, X, Dw;
        public int N, K, Tokens, Accumulate, PairStores;
    }
}
