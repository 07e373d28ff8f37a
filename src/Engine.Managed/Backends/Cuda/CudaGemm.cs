using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.GemmAttentionLaunch;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Launches the GEMM kernels for <see cref="IBackend.MatMul"/> and <see cref="IBackend.MatMulInputGrad"/>. The caller
/// has checked shapes and aliasing; tensors are row-major and contiguous. Path, by what bounds the work:
/// <list type="bullet">
/// <item>MatMul with M &lt;= 8 (a decode batch): the weight-streaming GEMV (gemm_decode.cu), any dtype mix; its 16-byte
/// path when K % 8 == 0 and both operands are 16-byte aligned, element loads otherwise.</item>
/// <item>bf16 weights, larger M: the mma.sync tensor-core kernel (gemm.cu), NT for MatMul and NN for the input
/// gradient, with A (x or dy) bf16 or f32 (f32 is rounded to bf16 as it is staged); 128x128 tiles when they give at
/// least one CTA per SM, 64x64 tiles otherwise; cp.async when the contraction rows (and, for NN, the output rows)
/// are multiples of 8 elements and the operands 16-byte aligned, the element-wise "unaligned" variant otherwise.</item>
/// <item>f32 weights, larger M (and every NN with f32 weights): the fp32 SIMT kernel (gemm_simt.cu).</item>
/// </list>
/// The input gradient has no GEMV: training runs it with M = tokens, far above 8.
/// </summary>
internal static class CudaGemm
{
    /// <summary>MatMul with at most this many rows takes the GEMV path.</summary>
    public const int DecodeRows = 8;

    private const int GemvRowsPerBlock = 4;
    private const int GemvThreads = 256;
    private const int SimtTile = 64;
    private const int SimtThreads = 256;
    private const int StageK = 32;
    private const int Stages = 3;

    // Indexed by TensorCoreIndex: [nn][small tiles][unaligned][f32 A].
    private static readonly string[] TensorCoreKernels = BuildTensorCoreNames();

    // Indexed by [w f32][x f32].
    private static readonly string[] GemvKernels = ["gemv_nt_bf16_bf16", "gemv_nt_f32_bf16", "gemv_nt_bf16_f32", "gemv_nt_f32_f32"];

    // Indexed by [A f32]; B is f32.
    private static readonly string[] SimtKernels = ["gemm_simt_bf16", "gemm_simt_f32"];

    /// <summary>y = x W^T (+ y when accumulate). x [M, K] BF16 or F32, w [N, K] BF16 or F32, y [M, N] BF16 or F32; fp32 accumulation.</summary>
    public static void MatMul(KernelLibrary lib, CudaStream? stream, Tensor x, Tensor w, Tensor y, bool accumulate)
    {
        const string op = "MatMul";
        CheckFloat(op, "x", x);
        CheckFloat(op, "w", w);
        CheckFloat(op, "y", y);
        int m = x.Dim(0), k = x.Dim(1), n = w.Dim(0);
        if (m == 0 || n == 0) return;
        if (m <= DecodeRows)
            LaunchGemv(lib, stream, x, w, y, m, n, k, accumulate);
        else if (w.DType == DType.F32)
            LaunchSimt(lib, stream, x, w, y, m, n, k, bStrideK: 1, bStrideN: k, accumulate);
        else
            LaunchTensorCore(lib, stream, nn: false, x, w, y, m, n, k, aligned: k % 8 == 0 && Aligned16(x) && Aligned16(w), accumulate);
    }

    /// <summary>
    /// dx = dy W (+ dx when accumulate). dy [M, N] BF16 or F32 (dLogits are F32), w [N, K] BF16 or F32, dx [M, K] BF16
    /// or F32. The contraction runs over W's rows.
    /// </summary>
    public static void MatMulInputGrad(KernelLibrary lib, CudaStream? stream, Tensor dy, Tensor w, Tensor dx, bool accumulate)
    {
        const string op = "MatMulInputGrad";
        CheckFloat(op, "dy", dy);
        CheckFloat(op, "w", w);
        CheckFloat(op, "dx", dx);
        int m = dy.Dim(0), n = dy.Dim(1), k = w.Dim(1);
        if (m == 0 || k == 0) return;
        // In kernel terms: output [m, k], contraction n, B(c, j) = w[c * k + j].
        if (w.DType == DType.F32)
            LaunchSimt(lib, stream, dy, w, dx, m, k, n, bStrideK: k, bStrideN: 1, accumulate);
        else
            LaunchTensorCore(lib, stream, nn: true, dy, w, dx, m, k, n,
                aligned: n % 8 == 0 && k % 8 == 0 && Aligned16(dy) && Aligned16(w), accumulate);
    }

    private static void LaunchGemv(KernelLibrary lib, CudaStream? stream, Tensor x, Tensor w, Tensor y, int m, int n, int k, bool accumulate)
    {
        string name = GemvKernels[(x.DType == DType.F32 ? 1 : 0) + (w.DType == DType.F32 ? 2 : 0)];
        var args = new GemvArgs
        {
            X = Address(x), W = Address(w), Y = Address(y), M = m, N = n, K = k,
            OutF32 = Flag(y.DType == DType.F32), Accumulate = Flag(accumulate),
            Vec = Flag(k % 8 == 0 && Aligned16(x) && Aligned16(w)),
        };
        lib.Get("gemm_decode.cu", name).Launch(Blocks(n, GemvRowsPerBlock), GemvThreads, 0, stream, ref args);
    }

    private static void LaunchTensorCore(KernelLibrary lib, CudaStream? stream, bool nn, Tensor a, Tensor b, Tensor y,
        int m, int n, int k, bool aligned, bool accumulate)
    {
        // A 128x128 grid that cannot cover the SMs once leaves most of the GPU idle; 64x64 tiles make 4x the CTAs.
        long largeTiles = (long)Blocks(m, 128) * Blocks(n, 128);
        bool small = largeTiles < lib.Device.MultiprocessorCount;
        int tile = small ? 64 : 128, threads = small ? 128 : 256;
        var args = new GemmArgs
        {
            A = Address(a), B = Address(b), Y = Address(y), M = m, N = n, K = k,
            OutF32 = Flag(y.DType == DType.F32), Accumulate = Flag(accumulate),
            PairStores = Flag(n % 2 == 0 && y.Address % (2 * y.DType.SizeOf()) == 0),
        };
        string name = TensorCoreKernels[TensorCoreIndex(nn, small, !aligned, a.DType == DType.F32)];
        lib.Get("gemm.cu", name).Launch(new Dim3(Blocks(m, tile), Blocks(n, tile)), threads,
            Stages * (tile + tile) * StageK * 2, stream, ref args);
    }

    private static void LaunchSimt(KernelLibrary lib, CudaStream? stream, Tensor a, Tensor b, Tensor y, int m, int n, int k,
        long bStrideK, long bStrideN, bool accumulate)
    {
        var args = new SimtArgs
        {
            A = Address(a), B = Address(b), Y = Address(y), M = m, N = n, K = k, BStrideK = bStrideK, BStrideN = bStrideN,
            OutF32 = Flag(y.DType == DType.F32), Accumulate = Flag(accumulate),
        };
        string name = SimtKernels[a.DType == DType.F32 ? 1 : 0];
        lib.Get("gemm_simt.cu", name).Launch(new Dim3(Blocks(m, SimtTile), Blocks(n, SimtTile)), SimtThreads, 0, stream, ref args);
    }

    private static int TensorCoreIndex(bool nn, bool small, bool unaligned, bool f32) =>
        (nn ? 8 : 0) | (small ? 4 : 0) | (unaligned ? 2 : 0) | (f32 ? 1 : 0);

    private static string[] BuildTensorCoreNames()
    {
        var names = new string[16];
        foreach (bool nn in new[] { false, true })
            foreach (bool small in new[] { false, true })
                foreach (bool unaligned in new[] { false, true })
                    foreach (bool f32 in new[] { false, true })
                        names[TensorCoreIndex(nn, small, unaligned, f32)] =
                            $"gemm_{(nn ? "nn" : "nt")}_{(small ? 64 : 128)}{(unaligned ? "_unaligned" : "")}_{(f32 ? "f32" : "bf16")}";
        return names;
    }

    private static void CheckFloat(string op, string arg, Tensor t) => OpCheck.DType(op, arg, t, DType.BF16, DType.F32);

    // Kernel parameter lists, in order (CudaKernel.Launch): pointers as ulong, C int as int, long long as long.

    /// <summary>gemm_{nt,nn}_*(a, b, y, m, n, k, out_f32, accumulate, pair_stores).</summary>
    private struct GemmArgs
    {
        public ulong A, B, Y;
        public int M, N, K, OutF32, Accumulate, PairStores;
    }

    /// <summary>gemv_nt_*(x, w, y, m, n, k, out_f32, accumulate, vec).</summary>
    private struct GemvArgs
    {
        public ulong X, W, Y;
        public int M, N, K, OutF32, Accumulate, Vec;
    }

    /// <summary>gemm_simt_*(a, b, y, m, n, k, b_stride_k, b_stride_n, out_f32, accumulate).</summary>
    private struct SimtArgs
    {
        public ulong A, B, Y;
        public int M, N, K;
        public long BStrideK, BStrideN;
        public int OutF32, Accumulate;
    }
}
