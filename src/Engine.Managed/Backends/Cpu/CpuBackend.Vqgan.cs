using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// GroupNorm and nearest upsampling of the image tokenizer. Hot loops are our own vector code compiled fully optimized
/// from the first call: TensorPrimitives runs for seconds at tier-0 speed in a fresh process.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    /// <summary>Elements summed in fp32 before the partial sum joins a float64 total (keeps million-element groups accurate).</summary>
    private const int StatisticsChunk = 4096;

    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool swish, Tensor y)
    {
        const string op = "GroupNorm";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "gamma", gamma);
        OpCheck.Backend(this, op, "beta", beta);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        CheckWeight(op, "gamma", gamma);
        CheckWeight(op, "beta", beta);
        var (n, c, h, w) = OpShapes.GroupNorm(op, x, gamma, beta, groups, y);
        int hw = checked(h * w);
        var g = WeightRow(gamma, 0, c, new float[c]).ToArray();
        var b = WeightRow(beta, 0, c, new float[c]).ToArray();
        var shape = new GroupNormShape(groups, c / groups, hw, eps, swish);
        nint xa = x.Address, ya = y.Address;
        CpuParallel.For(n * groups, 8L * checked(shape.PerGroup * hw), (first, last) =>
            GroupNormItems((float*)xa, (float*)ya, g, b, first, last, shape));
    }

    private readonly record struct GroupNormShape(int Groups, int PerGroup, int Hw, float Eps, bool Swish);

    /// <summary>
    /// Items [first, last) = sample * groups + group; a group's channels are one contiguous block of (C/groups) * H * W.
    /// Two-pass statistics (mean, then squared deviations), then one fused normalize-affine-swish pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GroupNormItems(float* x, float* y, float[] gamma, float[] beta, int first, int last, GroupNormShape s)
    {
        int count = s.PerGroup * s.Hw;
        for (int item = first; item < last; item++)
        {
            float* xs = x + (long)item * count, ys = y + (long)item * count;
            float mean = (float)(CenteredSum(xs, count, 0f, squares: false) / count);
            float inv = 1f / MathF.Sqrt((float)(CenteredSum(xs, count, mean, squares: true) / count) + s.Eps);
            int c0 = item % s.Groups * s.PerGroup;
            for (int ch = 0; ch < s.PerGroup; ch++)
            {
                float scale = inv * gamma[c0 + ch], shift = beta[c0 + ch];
                float* xc = xs + (long)ch * s.Hw, yc = ys + (long)ch * s.Hw;
                var vMean = Vector512.Create(mean);
                var vScale = Vector512.Create(scale);
                var vShift = Vector512.Create(shift);
                int i = 0;
                for (; i + 16 <= s.Hw; i += 16)
                {
                    var v = Vector512.FusedMultiplyAdd(Vector512.Load(xc + i) - vMean, vScale, vShift);
                    if (s.Swish) v /= Vector512<float>.One + CpuMath.Exp(-v);
                    v.Store(yc + i);
                }
                for (; i < s.Hw; i++)
                {
                    float v = MathF.FusedMultiplyAdd(xc[i] - mean, scale, shift);
                    yc[i] = s.Swish ? v / (1f + MathF.Exp(-v)) : v;
                }
            }
        }
    }

    /// <summary>Sum of (x - center) or of its squares: fp32 vector sums per chunk, the chunks added in float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double CenteredSum(float* x, int count, float center, bool squares)
    {
        int vw = Vector<float>.Count;
        var vCenter = new Vector<float>(center);
        double total = 0;
        for (int start = 0; start < count; start += StatisticsChunk)
        {
            int end = Math.Min(start + StatisticsChunk, count), i = start;
            Vector<float> acc0 = default, acc1 = default;
            for (; i + 2 * vw <= end; i += 2 * vw)
            {
                var d0 = Unsafe.ReadUnaligned<Vector<float>>(x + i) - vCenter;
                var d1 = Unsafe.ReadUnaligned<Vector<float>>(x + i + vw) - vCenter;
                acc0 = squares ? Vector.FusedMultiplyAdd(d0, d0, acc0) : acc0 + d0;
                acc1 = squares ? Vector.FusedMultiplyAdd(d1, d1, acc1) : acc1 + d1;
            }
            float partial = Vector.Sum(acc0 + acc1);
            for (; i < end; i++)
            {
                float d = x[i] - center;
                partial += squares ? d * d : d;
            }
            total += partial;
        }
        return total;
    }

    public void Upsample2x(Tensor x, Tensor y)
    {
        const string op = "Upsample2x";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        var (n, c, h, w) = OpShapes.Upsample2x(op, x, y);
        nint xa = x.Address, ya = y.Address;
        CpuParallel.For(n * c * h, 4L * w, (first, last) => UpsampleRows((float*)xa, (float*)ya, first, last, w));
    }

    /// <summary>Input row i of a plane becomes output rows 2i and 2i + 1, which start 4W * (plane * H + i) in.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpsampleRows(float* x, float* y, int first, int last, int w)
    {
        for (int row = first; row < last; row++)
        {
            float* src = x + (long)row * w, dst = y + (long)row * 4 * w;
            for (int j = 0; j < w; j++) dst[2 * j] = dst[2 * j + 1] = src[j];
            new ReadOnlySpan<float>(dst, 2 * w).CopyTo(new Span<float>(dst + 2 * w, 2 * w));
        }
    }
}
