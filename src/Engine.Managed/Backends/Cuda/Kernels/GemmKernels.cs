namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>
/// kernels/gemm.cu: the tensor-core GEMM with BF16 weights, NT (y = x W^T) and NN (dx = dy W), in 128x128 and 64x64
/// tiles, with cp.async or element loads, A in BF16 or F32.
/// </summary>
internal static class GemmKernels
{
    private const string File = "gemm.cu";

    // Indexed by Index(nn, small tiles, unaligned, f32 A).
    private static readonly KernelDescriptor<GemmArgs>[] TensorCore = BuildTensorCore();

    public static KernelDescriptor<GemmArgs> For(bool nn, bool smallTiles, bool unaligned, bool f32A) =>
        TensorCore[Index(nn, smallTiles, unaligned, f32A)];

    private static int Index(bool nn, bool small, bool unaligned, bool f32) =>
        (nn ? 8 : 0) | (small ? 4 : 0) | (unaligned ? 2 : 0) | (f32 ? 1 : 0);

    private static KernelDescriptor<GemmArgs>[] BuildTensorCore()
    {
        var kernels = new KernelDescriptor<GemmArgs>[16];
        foreach (bool nn in new[] { false, true })
            foreach (bool small in new[] { false, true })
                foreach (bool unaligned in new[] { false, true })
                    foreach (bool f32 in new[] { false, true })
                        kernels[Index(nn, small, unaligned, f32)] = new(File,
                            $"gemm_{(nn ? "nn" : "nt")}_{(small ? 64 : 128)}{(unaligned ? "_unaligned" : "")}_{(f32 ? "f32" : "bf16")}");
        return kernels;
    }

    public struct GemmArgs
    {
        public ulong A, B, Y;
        public int M, N, K, OutF32, Accumulate, PairStores;
    }
}
