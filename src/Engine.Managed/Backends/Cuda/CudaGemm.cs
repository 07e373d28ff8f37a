using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.GemmAttentionLaunch;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.GemmDecodeKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.GemmKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.GemmSimtKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.WeightGradientKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Launches the GEMM kernels for <see cref="IBackend.MatMul"/>, <see cref="IBackend.MatMulInputGrad"/> and
/// <see cref="IBackend.WeightGradient"/> (weight_gradient.cu, the same mainloop with both operands token-major). The caller
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

    /// <summary>
    /// dW = dy^T x (+ dW when accumulate): dy [M, N] and x [M, K] both BF16 or both F32, dW [N, K] F32. The
    /// contraction runs over the M tokens; the tile size follows the same rule as the GEMMs'.
    /// </summary>
    public static void WeightGradient(KernelLibrary lib, CudaStream? stream, Tensor dy, Tensor x, Tensor dw, bool accumulate)
    {
        const string op = "WeightGradient";
        CheckFloat(op, "dy", dy);
        OpCheck.DType(op, "x", x, dy.DType);
        OpCheck.DType(op, "dw", dw, DType.F32);
        int tokens = dy.Dim(0), n = dy.Dim(1), k = x.Dim(1);
        if (n == 0 || k == 0) return;
        long largeTiles = (long)Blocks(n, 128) * Blocks(k, 128);
        bool small = largeTiles < lib.Device.MultiprocessorCount;
        int tile = small ? 64 : 128, threads = small ? 128 : 256;
        var args = new WeightGradientArgs
        {
            Dy = Address(dy), X = Address(x), Dw = Address(dw), N = n, K = k, Tokens = tokens,
            Accumulate = Flag(accumulate), PairStores = Flag(k % 2 == 0 && dw.Address % 8 == 0),
        };
        bool aligned = n % 8 == 0 && k % 8 == 0 && Aligned16(dy) && Aligned16(x);
        var kernel = lib.Get(WeightGradientKernels.For(small, unaligned: !aligned, f32: dy.DType == DType.F32));
        kernel.Launch(new Dim3(Blocks(n, tile), Blocks(k, tile)), threads, Stages * (tile + tile) * StageK * 2, stream, ref args);
    }

    private static void LaunchGemv(KernelLibrary lib, CudaStream? stream, Tensor x, Tensor w, Tensor y, int m, int n, int k, bool accumulate)
    {
        var args = new GemvArgs
        {
            X = Address(x), W = Address(w), Y = Address(y), M = m, N = n, K = k,
            OutF32 = Flag(y.DType == DType.F32), Accumulate = Flag(accumulate),
            Vec = Flag(k % 8 == 0 && Aligned16(x) && Aligned16(w)),
        };
        lib.Get(GemmDecodeKernels.Gemv.For(x.DType, w.DType)).Launch(Blocks(n, GemvRowsPerBlock), GemvThreads, 0, stream, ref args);
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
        var kernel = lib.Get(GemmKernels.For(nn, small, unaligned: !aligned, f32A: a.DType == DType.F32));
        kernel.Launch(new Dim3(Blocks(m, tile), Blocks(n, tile)), threads, Stages * (tile + tile) * StageK * 2, stream, ref args);
    }

    private static void LaunchSimt(KernelLibrary lib, CudaStream? stream, Tensor a, Tensor b, Tensor y, int m, int n, int k,
        long bStrideK, long bStrideN, bool accumulate)
    {
        var args = new SimtArgs
        {
            A = Address(a), B = Address(b), Y = Address(y), M = m, N = n, K = k, BStrideK = bStrideK, BStrideN = bStrideN,
            OutF32 = Flag(y.DType == DType.F32), Accumulate = Flag(accumulate),
        };
        lib.Get(GemmSimtKernels.Simt.For(a.DType)).Launch(new Dim3(Blocks(m, SimtTile), Blocks(n, SimtTile)), SimtThreads, 0, stream, ref args);
    }

    private static void CheckFloat(string op, string arg, Tensor t) => OpCheck.DType(op, arg, t, DType.BF16, DType.F32);
}
