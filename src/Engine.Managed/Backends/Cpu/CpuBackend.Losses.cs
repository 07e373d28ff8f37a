using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// Training losses over logits with their gradients, row by row. Softmaxes subtract the row maximum before exp; the
/// sums over the vocabulary (65536 terms) and the loss terms are accumulated in fp64, elementwise math is fp32.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    [ThreadStatic] private static float[]? t_lossScratch;

    public void SoftmaxCrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, float gradScale)
    {
        const string op = "SoftmaxCrossEntropy";
        CheckLossTypes(op, logits, losses, dLogits);
        OpCheck.Backend(this, op, "targets", targets);
        OpCheck.DType(op, "targets", targets, DType.I32);
        var (n, v) = OpShapes.SoftmaxCrossEntropy(op, logits, targets, losses, dLogits);
        var target = I32(targets).ToArray();
        for (int r = 0; r < n; r++)
            if (target[r] < -1 || target[r] >= v)
                throw new ArgumentOutOfRangeException(nameof(targets), $"{op}: row {r} has target {target[r]}, expected a token in [0, {v}) or -1 (ignored)");
        nint la = logits.Address, lossa = losses.Address, da = dLogits.Address;
        CpuParallel.For(n, 6L * v, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int r = first; r < last; r++)
            {
                var l = new ReadOnlySpan<float>((float*)la + (long)r * v, v);
                var d = new Span<float>((float*)da + (long)r * v, v);
                if (target[r] < 0)
                {
                    ((float*)lossa)[r] = 0f;
                    d.Clear();
                    continue;
                }
                // d may be l itself: read what the loss needs before d is written.
                float max = TensorPrimitives.Max(l), picked = l[target[r]];
                TensorPrimitives.Subtract(l, max, d);
                TensorPrimitives.Exp(d, d);
                double sum = SumAsDouble(d);
                ((float*)lossa)[r] = (float)(max + Math.Log(sum) - picked);
                TensorPrimitives.Multiply(d, (float)(gradScale / sum), d);
                d[target[r]] -= gradScale;
            }
        });
    }

    public void KlDivergence(Tensor reference, Tensor logits, Tensor losses, Tensor dLogits, float gradScale)
    {
        const string op = "KlDivergence";
        CheckLossTypes(op, logits, losses, dLogits);
        OpCheck.Backend(this, op, "reference", reference);
        OpCheck.DType(op, "reference", reference, DType.F32);
        var (n, v) = OpShapes.KlDivergence(op, reference, logits, losses, dLogits);
        nint ra = reference.Address, la = logits.Address, lossa = losses.Address, da = dLogits.Address;
        CpuParallel.For(n, 12L * v, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            var scratch = t_lossScratch is { } s && s.Length >= 2 * v ? s : t_lossScratch = new float[2 * v];
            var p = scratch.AsSpan(0, v);
            var q = scratch.AsSpan(v, v);
            for (int r = first; r < last; r++)
            {
                var refRow = new ReadOnlySpan<float>((float*)ra + (long)r * v, v);
                var l = new ReadOnlySpan<float>((float*)la + (long)r * v, v);
                var d = new Span<float>((float*)da + (long)r * v, v);
                // p and q unnormalized: exp(x - max); log p - log q = (ref - logit) + shift.
                float maxRef = TensorPrimitives.Max(refRow), maxLogit = TensorPrimitives.Max(l);
                TensorPrimitives.Subtract(refRow, maxRef, p);
                TensorPrimitives.Exp(p, p);
                TensorPrimitives.Subtract(l, maxLogit, q);
                TensorPrimitives.Exp(q, q);
                double sumP = SumAsDouble(p), sumQ = SumAsDouble(q);
                double shift = (double)maxLogit - maxRef + Math.Log(sumQ) - Math.Log(sumP);
                // The log-ratio is formed in fp64 so that nearly equal distributions give a small KL without
                // cancellation noise (and equal ones exactly 0); p = 0 terms (masked reference logits) add nothing.
                double weighted = 0;
                for (int j = 0; j < v; j++)
                    if (p[j] != 0f)
                        weighted += p[j] * ((double)refRow[j] - l[j]);
                ((float*)lossa)[r] = (float)(weighted / sumP + shift);
                TensorPrimitives.Multiply(q, (float)(gradScale / sumQ), d);
                TensorPrimitives.MultiplyAdd(p, (float)(-gradScale / sumP), d, d);
            }
        });
    }

    /// <summary>The losses take logits, losses and dLogits in F32 (their shapes: <see cref="OpShapes"/>).</summary>
    private void CheckLossTypes(string op, Tensor logits, Tensor losses, Tensor dLogits)
    {
        foreach (var (name, t) in new[] { ("logits", logits), ("losses", losses), ("dLogits", dLogits) })
        {
            OpCheck.Backend(this, op, name, t);
            OpCheck.DType(op, name, t, DType.F32);
        }
    }

    private static double SumAsDouble(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (float e in x) sum += e;
        return sum;
    }
}
