using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.NormKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>RMSNorm and the per-head qk LayerNorm, forward and input gradients (kernels/norms.cu).</summary>
public sealed partial class CudaBackend
{
    /// <summary>Head rows per block of the half-warp-per-row kernels (16 lanes per row).</summary>
    private const int HeadRowsPerBlock = RowThreads / 16;

    public void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y)
    {
        const string op = "RmsNorm";
        CheckFloat(op, "x", x);
        CheckFloat(op, "weight", weight);
        CheckSameType(op, "y", y, x);
        var (t, d) = OpShapes.RmsNorm(op, x, weight, y);
        if (t == 0 || d == 0) return;
        var args = new RmsNormArgs
        {
            Y = Ptr(y), X = Ptr(x), Weight = Ptr(weight), WeightBf16 = Bf16(weight), D = d, Eps = eps,
            Vec = Flag(d % 8 == 0 && Aligned16(x, y, weight)),
        };
        Launch(NormKernels.RmsNormForward.For(x.DType), t, RowThreads, ref args);
    }

    public void HeadLayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y)
    {
        const string op = "HeadLayerNorm";
        CheckFloat(op, "x", x);
        CheckFloat(op, "gamma", gamma);
        CheckSameType(op, "beta", beta, gamma);
        CheckSameType(op, "y", y, x);
        var (t, heads, dh, groups) = OpShapes.HeadLayerNorm(op, x, gamma, beta, y);
        long rows = (long)t * heads;
        if (rows == 0 || dh == 0) return;
        var args = new HeadNormArgs
        {
            Y = Ptr(y), X = Ptr(x), Gamma = Ptr(gamma), Beta = Ptr(beta), WeightBf16 = Bf16(gamma), Rows = rows, Heads = heads, Dh = dh,
            HeadsPerGroup = heads / groups, Eps = eps, Vec = Flag(dh % 8 == 0 && Aligned16(x, y, gamma) && Aligned16(beta)),
        };
        Launch(NormKernels.HeadNormForward.For(x.DType), Dim3.BlocksFor(rows, HeadRowsPerBlock), RowThreads, ref args);
    }

    public void RmsNormBackward(Tensor x, Tensor weight, float eps, Tensor dy, Tensor dx, bool accumulate = false)
    {
        const string op = "RmsNormBackward";
        CheckGradTypes(op, x, dy, dx);
        CheckFloat(op, "weight", weight);
        var (t, d) = OpShapes.RmsNormBackward(op, x, weight, dy, dx);
        if (t == 0 || d == 0) return;
        var args = new RmsNormBackwardArgs
        {
            Dx = Ptr(dx), X = Ptr(x), Dy = Ptr(dy), DyBf16 = Bf16(dy), Weight = Ptr(weight), WeightBf16 = Bf16(weight), D = d, Eps = eps,
            Vec = Flag(d % 8 == 0 && Aligned16(x, dy, dx) && Aligned16(weight)), Accumulate = Flag(accumulate),
        };
        Launch(NormKernels.RmsNormBackward.For(x.DType), t, RowThreads, ref args);
    }

    public void HeadLayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx)
    {
        const string op = "HeadLayerNormBackward";
        CheckGradTypes(op, x, dy, dx);
        CheckFloat(op, "gamma", gamma);
        var (t, heads, dh, groups) = OpShapes.HeadLayerNormBackward(op, x, gamma, dy, dx);
        long rows = (long)t * heads;
        if (rows == 0 || dh == 0) return;
        var args = new HeadNormBackwardArgs
        {
            Dx = Ptr(dx), X = Ptr(x), Dy = Ptr(dy), DyBf16 = Bf16(dy), Gamma = Ptr(gamma), WeightBf16 = Bf16(gamma), Rows = rows,
            Heads = heads, Dh = dh, HeadsPerGroup = heads / groups, Eps = eps, Vec = Flag(dh % 8 == 0 && Aligned16(x, dy, dx) && Aligned16(gamma)),
        };
        Launch(NormKernels.HeadNormBackward.For(x.DType), Dim3.BlocksFor(rows, HeadRowsPerBlock), RowThreads, ref args);
    }

    /// <summary>
    /// The backward ops of shape-preserving row ops take x and dx of one activation type and dy BF16 or F32 (a gradient
    /// arriving from an F32 loss head); their shapes: <see cref="OpShapes"/>.
    /// </summary>
    private void CheckGradTypes(string op, Tensor x, Tensor dy, Tensor dx)
    {
        CheckFloat(op, "x", x);
        CheckFloat(op, "dy", dy);
        CheckSameType(op, "dx", dx, x);
    }
}
