using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>Gradients of the dense ops: the GEMM's input and weight gradients; the input gradients of norms, RoPE, SwiGLU.</summary>
public sealed unsafe partial class CpuBackend
{
    public void MatMulInputGrad(Tensor dy, Tensor w, Tensor dx, bool accumulate = false)
    {
        const string op = "MatMulInputGrad";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "dy", dy);
        OpCheck.Backend(this, op, "w", w);
        OpCheck.Backend(this, op, "dx", dx);
        OpCheck.DType(op, "dy", dy, DType.F32);
        OpCheck.DType(op, "dx", dx, DType.F32);
        CheckWeight(op, "w", w);
        var (m, n, k) = OpShapes.MatMulInputGrad(op, dy, w, dx);
        CpuGemm.InputGrad((float*)dy.Address, w, (float*)dx.Address, m, n, k, accumulate);
    }

    public void WeightGradient(Tensor dy, Tensor x, Tensor dw, bool accumulate = false)
    {
        const string op = "WeightGradient";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "dy", dy);
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "dw", dw);
        OpCheck.DType(op, "dy", dy, DType.F32);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "dw", dw, DType.F32);
        var (m, n, k) = OpShapes.WeightGradient(op, dy, x, dw);
        CpuGemm.WeightGradient((float*)dy.Address, (float*)x.Address, (float*)dw.Address, m, n, k, accumulate);
    }

    public void RmsNormBackward(Tensor x, Tensor weight, float eps, Tensor dy, Tensor dx, bool accumulate = false)
    {
        const string op = "RmsNormBackward";
        using var timing = CpuOpProfile.Time(op);
        CheckGradTypes(op, x, dy, dx);
        OpCheck.Backend(this, op, "weight", weight);
        CheckWeight(op, "weight", weight);
        var (t, d) = OpShapes.RmsNormBackward(op, x, weight, dy, dx);
        var w = WeightRow(weight, 0, d, new float[d]).ToArray();
        nint xa = x.Address, dya = dy.Address, dxa = dx.Address;
        // y_j = w_j x_j r with r = (s/d + eps)^-1/2, s = sum x^2, so dr/dx_k = -r^3 x_k / d and
        // dx_k = r w_k dy_k - x_k r^3/d * sum_j(dy_j w_j x_j). The sum is taken in fp64.
        CpuParallel.For(t, 6L * d, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int i = first; i < last; i++)
            {
                var xr = new ReadOnlySpan<float>((float*)xa + (long)i * d, d);
                var dyr = new ReadOnlySpan<float>((float*)dya + (long)i * d, d);
                var dxr = new Span<float>((float*)dxa + (long)i * d, d);
                float r = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xr) / d + eps);
                double dot = 0;
                for (int j = 0; j < d; j++) dot += (double)dyr[j] * w[j] * xr[j];
                float c = (float)(dot * r * r * r / d);
                for (int j = 0; j < d; j++)
                {
                    float g = r * w[j] * dyr[j] - xr[j] * c;
                    dxr[j] = accumulate ? dxr[j] + g : g;
                }
            }
        });
    }

    public void HeadLayerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy, Tensor dx)
    {
        const string op = "HeadLayerNormBackward";
        using var timing = CpuOpProfile.Time(op);
        CheckGradTypes(op, x, dy, dx);
        OpCheck.Backend(this, op, "gamma", gamma);
        CheckWeight(op, "gamma", gamma);
        var (t, heads, dh, groups) = OpShapes.HeadLayerNormBackward(op, x, gamma, dy, dx);
        var gam = WeightRow(gamma, 0, groups * dh, new float[groups * dh]).ToArray();
        int headsPerGroup = heads / groups;
        nint xa = x.Address, dya = dy.Address, dxa = dx.Address;
        // With xhat = (x - mean) * inv and g = dy * gamma: dx = inv * (g - mean(g) - xhat * mean(g * xhat)).
        CpuParallel.For(t * heads, 8L * dh, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int i = first; i < last; i++)
            {
                var xr = new ReadOnlySpan<float>((float*)xa + (long)i * dh, dh);
                var dyr = new ReadOnlySpan<float>((float*)dya + (long)i * dh, dh);
                var dxr = new Span<float>((float*)dxa + (long)i * dh, dh);
                var gr = gam.AsSpan(i % heads / headsPerGroup * dh, dh);
                float mean = TensorPrimitives.Sum(xr) / dh;
                float var = 0;
                for (int j = 0; j < dh; j++)
                {
                    float c = xr[j] - mean;
                    var += c * c;
                }
                float inv = 1f / MathF.Sqrt(var / dh + eps);
                double sumG = 0, sumGx = 0;
                for (int j = 0; j < dh; j++)
                {
                    double g = (double)dyr[j] * gr[j];
                    sumG += g;
                    sumGx += g * ((xr[j] - mean) * inv);
                }
                float meanG = (float)(sumG / dh), meanGx = (float)(sumGx / dh);
                for (int j = 0; j < dh; j++)
                    dxr[j] = inv * (dyr[j] * gr[j] - meanG - (xr[j] - mean) * inv * meanGx);
            }
        });
    }

    /// <summary>The rotation is orthogonal, so its transpose (rotation by -angle) carries the gradient back.</summary>
    public void RopeBackward(Tensor dy, Tensor positions, float theta, Tensor dx) =>
        Rotate("RopeBackward", "dy", dy, "dx", dx, positions, theta, -1f);

    public void SwiGluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp)
    {
        const string op = "SwiGluBackward";
        using var timing = CpuOpProfile.Time(op);
        var args = new[] { ("gate", gate), ("up", up), ("dOut", dOut), ("dGate", dGate), ("dUp", dUp) };
        foreach (var (name, t) in args)
        {
            OpCheck.Backend(this, op, name, t);
            OpCheck.DType(op, name, t, DType.F32);
        }
        OpShapes.SwiGluBackward(op, gate, up, dOut, dGate, dUp);
        foreach (var (output, o) in args[3..])
            foreach (var (name, t) in args)
                if (name != output) OpCheck.NoAlias(op, name, t, output, o);
        int rows = gate.Rank == 0 ? 1 : gate.Dim(0);
        int width = (int)gate.RowElements;
        nint ga = gate.Address, ua = up.Address, da = dOut.Address, dga = dGate.Address, dua = dUp.Address;
        // silu(g) = g s with s = sigmoid(g); silu'(g) = s (1 + g (1 - s)).
        CpuParallel.For(rows, 10L * width, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int i = first; i < last; i++)
            {
                long o = (long)i * width;
                for (int j = 0; j < width; j++)
                {
                    float g = ((float*)ga)[o + j], d = ((float*)da)[o + j];
                    float s = 1f / (1f + MathF.Exp(-g));
                    ((float*)dga)[o + j] = d * ((float*)ua)[o + j] * s * (1f + g * (1f - s));
                    ((float*)dua)[o + j] = d * g * s;
                }
            }
        });
    }

    /// <summary>The backward ops of shape-preserving row ops take x, dy and dx in F32 (their shapes: <see cref="OpShapes"/>).</summary>
    private void CheckGradTypes(string op, Tensor x, Tensor dy, Tensor dx)
    {
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "dy", dy);
        OpCheck.Backend(this, op, "dx", dx);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "dy", dy, DType.F32);
        OpCheck.DType(op, "dx", dx, DType.F32);
    }
}
