using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// Training losses over logits with their gradients, row by row in a few vectorized passes over each row (a 65536-wide
/// row stays in L2 between them). Softmaxes subtract the row maximum before exp; the sums over the vocabulary and the
/// loss terms are accumulated in fp64, elementwise math is fp32.
/// </summary>
public sealed unsafe partial class CpuBackend
{
    public void SoftmaxCrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, float gradScale,
        float zLossScale = 0f, Tensor? logSumExp = null)
    {
        const string op = "SoftmaxCrossEntropy";
        using var timing = CpuOpProfile.Time(op);
        CheckLossTypes(op, logits, losses, dLogits);
        OpCheck.Backend(this, op, "targets", targets);
        OpCheck.DType(op, "targets", targets, DType.I32);
        var (n, v) = OpShapes.SoftmaxCrossEntropy(op, logits, targets, losses, dLogits, logSumExp);
        if (logSumExp is not null)
        {
            OpCheck.Backend(this, op, "logSumExp", logSumExp);
            OpCheck.DType(op, "logSumExp", logSumExp, DType.F32);
        }
        var target = I32(targets).ToArray();
        for (int r = 0; r < n; r++)
            if (target[r] < -1 || target[r] >= v)
                throw new ArgumentOutOfRangeException(nameof(targets), $"{op}: row {r} has target {target[r]}, expected a token in [0, {v}) or -1 (ignored)");
        nint la = logits.Address, lossa = losses.Address, da = dLogits.Address, lsea = logSumExp?.Address ?? 0;
        CpuParallel.For(n, 6L * v, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int r = first; r < last; r++)
            {
                float* l = (float*)la + (long)r * v, d = (float*)da + (long)r * v;
                if (target[r] < 0)
                {
                    ((float*)lossa)[r] = 0f;
                    if (lsea != 0) ((float*)lsea)[r] = 0f;
                    new Span<float>(d, v).Clear();
                    continue;
                }
                // d may be l itself: every pass reads an element before it writes it.
                float max = Max(l, v), picked = l[target[r]];
                double sum = ExpShifted(l, max, d, v), lse = max + Math.Log(sum);
                ((float*)lossa)[r] = (float)(lse - picked);
                if (lsea != 0) ((float*)lsea)[r] = (float)lse;
                // The z-loss term lse^2 adds 2 lse softmax to the gradient: one scale on the softmax.
                Scale(d, (float)((gradScale + 2 * zLossScale * lse) / sum), v);
                d[target[r]] -= gradScale;
            }
        });
    }

    public void KlDivergence(Tensor reference, Tensor logits, Tensor losses, Tensor dLogits, float gradScale)
    {
        const string op = "KlDivergence";
        using var timing = CpuOpProfile.Time(op);
        CheckLossTypes(op, logits, losses, dLogits);
        OpCheck.Backend(this, op, "reference", reference);
        OpCheck.DType(op, "reference", reference, DType.F32);
        var (n, v) = OpShapes.KlDivergence(op, reference, logits, losses, dLogits);
        nint ra = reference.Address, la = logits.Address, lossa = losses.Address, da = dLogits.Address;
        CpuParallel.For(n, 12L * v, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int r = first; r < last; r++)
            {
                float* refRow = (float*)ra + (long)r * v, l = (float*)la + (long)r * v, d = (float*)da + (long)r * v;
                // p and q unnormalized: exp(x - max); log p - log q = (ref - logit) + shift. Three passes over the row
                // (it stays in L2); p is recomputed in the last rather than stored. d may alias an input: each element
                // of the inputs is read before d is written there.
                var (maxRef, maxLogit) = Max2(refRow, l, v);
                var (sumP, sumQ, weighted) = KlTerms(refRow, l, maxRef, maxLogit, d, v);
                double shift = (double)maxLogit - maxRef + Math.Log(sumQ) - Math.Log(sumP);
                ((float*)lossa)[r] = (float)(weighted / sumP + shift);
                KlGradient(d, (float)(gradScale / sumQ), refRow, maxRef, (float)(gradScale / sumP), v);
            }
        });
    }

    // ---- row kernels: AVX-512 wide (Vector512 runs as two halves where the CPU has none), fp64 sums ----

    private static float Max(float* x, int n)
    {
        int j = 0;
        var m = Vector512.Create(float.NegativeInfinity);
        for (; j + 16 <= n; j += 16) m = Vector512.Max(m, Vector512.Load(x + j));
        float max = float.NegativeInfinity;
        for (int e = 0; e < 16; e++) max = MathF.Max(max, m[e]);
        for (; j < n; j++) max = MathF.Max(max, x[j]);
        return max;
    }

    /// <summary>dst = exp(x - shift); returns the sum of dst accumulated in fp64. dst may be x.</summary>
    private static double ExpShifted(float* x, float shift, float* dst, int n)
    {
        int j = 0;
        var s = Vector512.Create(shift);
        Vector512<double> acc0 = default, acc1 = default;
        for (; j + 16 <= n; j += 16)
        {
            var e = CpuMath.Exp(Vector512.Load(x + j) - s);
            e.Store(dst + j);
            var (lo, hi) = Vector512.Widen(e);
            acc0 += lo;
            acc1 += hi;
        }
        double sum = Vector512.Sum(acc0 + acc1);
        for (; j < n; j++)
        {
            dst[j] = MathF.Exp(x[j] - shift);
            sum += dst[j];
        }
        return sum;
    }

    private static (float A, float B) Max2(float* a, float* b, int n)
    {
        int j = 0;
        var ma = Vector512.Create(float.NegativeInfinity);
        var mb = ma;
        for (; j + 16 <= n; j += 16)
        {
            ma = Vector512.Max(ma, Vector512.Load(a + j));
            mb = Vector512.Max(mb, Vector512.Load(b + j));
        }
        float maxA = float.NegativeInfinity, maxB = float.NegativeInfinity;
        for (int e = 0; e < 16; e++)
        {
            maxA = MathF.Max(maxA, ma[e]);
            maxB = MathF.Max(maxB, mb[e]);
        }
        for (; j < n; j++)
        {
            maxA = MathF.Max(maxA, a[j]);
            maxB = MathF.Max(maxB, b[j]);
        }
        return (maxA, maxB);
    }

    /// <summary>
    /// q = exp(logit - maxLogit) into <paramref name="q"/>; returns the sums of p = exp(ref - maxRef) and of q, and the
    /// sum of p (ref - logit) over p != 0, in fp64. The log-ratio is formed in fp64 so that nearly equal distributions
    /// give a small KL without cancellation noise (and equal ones exactly 0); p = 0 terms (masked reference logits,
    /// -inf) add nothing.
    /// </summary>
    private static (double SumP, double SumQ, double Weighted) KlTerms(float* reference, float* logits, float maxRef, float maxLogit, float* q, int n)
    {
        int j = 0;
        var sr = Vector512.Create(maxRef);
        var sl = Vector512.Create(maxLogit);
        Vector512<double> p0 = default, p1 = default, q0 = default, q1 = default, w0 = default, w1 = default;
        for (; j + 16 <= n; j += 16)
        {
            var r = Vector512.Load(reference + j);
            var l = Vector512.Load(logits + j);
            var ep = CpuMath.Exp(r - sr);
            var eq = CpuMath.Exp(l - sl);
            eq.Store(q + j);
            var (plo, phi) = Vector512.Widen(ep);
            var (qlo, qhi) = Vector512.Widen(eq);
            var (rlo, rhi) = Vector512.Widen(r);
            var (llo, lhi) = Vector512.Widen(l);
            p0 += plo;
            p1 += phi;
            q0 += qlo;
            q1 += qhi;
            w0 += Vector512.ConditionalSelect(Vector512.Equals(plo, Vector512<double>.Zero), Vector512<double>.Zero, plo * (rlo - llo));
            w1 += Vector512.ConditionalSelect(Vector512.Equals(phi, Vector512<double>.Zero), Vector512<double>.Zero, phi * (rhi - lhi));
        }
        double sumP = Vector512.Sum(p0 + p1), sumQ = Vector512.Sum(q0 + q1), weighted = Vector512.Sum(w0 + w1);
        for (; j < n; j++)
        {
            float p = MathF.Exp(reference[j] - maxRef);
            float l = logits[j];
            q[j] = MathF.Exp(l - maxLogit);
            sumP += p;
            sumQ += q[j];
            if (p != 0f) weighted += p * ((double)reference[j] - l);
        }
        return (sumP, sumQ, weighted);
    }

    /// <summary>d = q a - exp(ref - maxRef) b, with q in d.</summary>
    private static void KlGradient(float* d, float a, float* reference, float maxRef, float b, int n)
    {
        int j = 0;
        var va = Vector512.Create(a);
        var vb = Vector512.Create(b);
        var sr = Vector512.Create(maxRef);
        for (; j + 16 <= n; j += 16)
            (Vector512.Load(d + j) * va - CpuMath.Exp(Vector512.Load(reference + j) - sr) * vb).Store(d + j);
        for (; j < n; j++) d[j] = d[j] * a - MathF.Exp(reference[j] - maxRef) * b;
    }

    private static void Scale(float* x, float factor, int n)
    {
        int j = 0;
        var f = Vector512.Create(factor);
        for (; j + 16 <= n; j += 16) (Vector512.Load(x + j) * f).Store(x + j);
        for (; j < n; j++) x[j] *= factor;
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
}
