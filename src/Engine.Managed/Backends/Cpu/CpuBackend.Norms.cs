using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void RmsNorm(Tensor x, Tensor weight, float eps, Tensor y)
    {
        const string op = "RmsNorm";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "weight", weight);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        CheckWeight(op, "weight", weight);
        var (t, d) = OpShapes.RmsNorm(op, x, weight, y);
        var w = WeightRow(weight, 0, d, new float[d]).ToArray();
        nint xa = x.Address, ya = y.Address;
        CpuParallel.For(t, 3L * d, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int i = first; i < last; i++)
            {
                var xr = new ReadOnlySpan<float>((float*)xa + (long)i * d, d);
                var yr = new Span<float>((float*)ya + (long)i * d, d);
                float scale = 1f / MathF.Sqrt(CpuVector.SumOfSquares(xr) / d + eps);
                CpuVector.Multiply(xr, scale, yr);
                CpuVector.Multiply(yr, w, yr);
            }
        });
    }

    public void HeadLayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y)
    {
        const string op = "HeadLayerNorm";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "gamma", gamma);
        OpCheck.Backend(this, op, "beta", beta);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        CheckWeight(op, "gamma", gamma);
        CheckWeight(op, "beta", beta);
        var (t, heads, dh, groups) = OpShapes.HeadLayerNorm(op, x, gamma, beta, y);
        var g = WeightRow(gamma, 0, groups * dh, new float[groups * dh]).ToArray();
        var b = WeightRow(beta, 0, groups * dh, new float[groups * dh]).ToArray();
        int headsPerGroup = heads / groups;
        nint xa = x.Address, ya = y.Address;
        CpuParallel.For(t * heads, 4L * dh, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int i = first; i < last; i++)
            {
                var xr = new ReadOnlySpan<float>((float*)xa + (long)i * dh, dh);
                var yr = new Span<float>((float*)ya + (long)i * dh, dh);
                int group = i % heads / headsPerGroup;
                float mean = CpuVector.Sum(xr) / dh;
                float var = 0;
                for (int j = 0; j < dh; j++)
                {
                    float c = xr[j] - mean;
                    var += c * c;
                }
                float inv = 1f / MathF.Sqrt(var / dh + eps);
                for (int j = 0; j < dh; j++)
                    yr[j] = (xr[j] - mean) * inv * g[group * dh + j] + b[group * dh + j];
            }
        });
    }
}
