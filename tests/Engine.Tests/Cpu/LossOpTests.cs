using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>SoftmaxCrossEntropy and KlDivergence: values against float64, gradients against finite differences.</summary>
public class LossOpTests
{
    private readonly CpuBackend _cpu = new();

    private static double LogSumExp(double[] x, int offset, int count)
    {
        double max = double.NegativeInfinity;
        for (int j = 0; j < count; j++) max = Math.Max(max, x[offset + j]);
        double sum = 0;
        for (int j = 0; j < count; j++) sum += Math.Exp(x[offset + j] - max);
        return max + Math.Log(sum);
    }

    private static double[] NaiveCrossEntropy(double[] logits, int[] targets, int v) =>
        targets.Select((target, r) => target < 0 ? 0 : LogSumExp(logits, r * v, v) - logits[r * v + target]).ToArray();

    private static double[] NaiveKl(double[] reference, double[] logits, int n, int v)
    {
        var kl = new double[n];
        for (int r = 0; r < n; r++)
        {
            double lseP = LogSumExp(reference, r * v, v), lseQ = LogSumExp(logits, r * v, v);
            for (int j = r * v; j < (r + 1) * v; j++)
            {
                double logP = reference[j] - lseP;
                kl[r] += Math.Exp(logP) * (logP - (logits[j] - lseQ));
            }
        }
        return kl;
    }

    [Test]
    public void CrossEntropyMatchesFloat64AndFiniteDifferences()
    {
        var rng = new Random(1);
        int n = 5, v = 37;
        int[] targets = [3, -1, 36, 0, 17];
        var logits = D(Random(rng, n * v, 4f));
        using var lt = GradCheck.NewTensor(_cpu, logits, n, v);
        using var tt = I32(_cpu, targets);
        using var losses = _cpu.Allocate(DType.F32, [n]);
        using var dLogits = _cpu.Allocate(DType.F32, [n, v]);
        const float gradScale = 0.37f;
        _cpu.SoftmaxCrossEntropy(lt, tt, losses, dLogits, gradScale);
        AssertClose(Read(_cpu, losses), NaiveCrossEntropy(logits, targets, v), 1e-6, "losses");
        var grad = GradCheck.ReadDouble(_cpu, dLogits);
        Assert.That(grad.Skip(v).Take(v), Is.All.EqualTo(0.0), "the ignored row gets no gradient");

        using var scratch = _cpu.Allocate(DType.F32, [n, v]);
        GradCheck.AssertMatches("dLogits", logits, x =>
        {
            GradCheck.Load(_cpu, lt, x);
            _cpu.SoftmaxCrossEntropy(lt, tt, losses, scratch, 1f);
            return gradScale * Read(_cpu, losses).Sum(l => (double)l);
        }, grad);
    }

    /// <summary>The z-loss (Lumina-mGPT's zLossScale * logsumexp^2) rides on the cross-entropy's gradient.</summary>
    [Test]
    public void ZLossGradientMatchesFiniteDifferencesAndLogSumExpIsReturned()
    {
        var rng = new Random(5);
        int n = 4, v = 31;
        int[] targets = [3, 30, -1, 0];
        var logits = D(Random(rng, n * v, 5f));
        for (int j = 0; j < v; j++) logits[j] += 4; // a row with a large logsumexp, where the z-loss matters
        using var lt = GradCheck.NewTensor(_cpu, logits, n, v);
        using var tt = I32(_cpu, targets);
        using var losses = _cpu.Allocate(DType.F32, [n]);
        using var lse = _cpu.Allocate(DType.F32, [n]);
        using var dLogits = _cpu.Allocate(DType.F32, [n, v]);
        const float gradScale = 0.25f, zScale = 0.02f;
        _cpu.SoftmaxCrossEntropy(lt, tt, losses, dLogits, gradScale, zScale, lse);
        var wantLse = targets.Select((t, r) => t < 0 ? 0 : LogSumExp(logits, r * v, v)).ToArray();
        AssertClose(Read(_cpu, lse), wantLse, 1e-6, "logsumexp");
        AssertClose(Read(_cpu, losses), NaiveCrossEntropy(logits, targets, v), 1e-6, "cross-entropy (the z-loss is not in it)");
        var grad = GradCheck.ReadDouble(_cpu, dLogits);
        Assert.That(grad.Skip(2 * v).Take(v), Is.All.EqualTo(0.0), "the ignored row gets no z-loss gradient either");

        using var scratch = _cpu.Allocate(DType.F32, [n, v]);
        GradCheck.AssertMatches("dLogits with z-loss", logits, x =>
        {
            GradCheck.Load(_cpu, lt, x);
            _cpu.SoftmaxCrossEntropy(lt, tt, losses, scratch, 1f, 0f, lse);
            var l = Read(_cpu, losses);
            var z = Read(_cpu, lse);
            return Enumerable.Range(0, n).Sum(r => gradScale * (double)l[r] + zScale * (double)z[r] * z[r]);
        }, grad);
    }

    /// <summary>A full 65536-token vocabulary, gradient written over the logits themselves.</summary>
    [Test]
    public void CrossEntropyOverAFullVocabularyInPlace()
    {
        var rng = new Random(2);
        int n = 2, v = 65536;
        int[] targets = [8197, 65535];
        var logits = Random(rng, n * v, 8f);
        using var lt = F32(_cpu, logits, n, v);
        using var tt = I32(_cpu, targets);
        using var losses = _cpu.Allocate(DType.F32, [n]);
        _cpu.SoftmaxCrossEntropy(lt, tt, losses, lt, 1f);
        var d = D(logits);
        AssertClose(Read(_cpu, losses), NaiveCrossEntropy(d, targets, v), 1e-6, "losses");
        var expected = new double[n * v];
        for (int r = 0; r < n; r++)
        {
            double lse = LogSumExp(d, r * v, v);
            for (int j = 0; j < v; j++) expected[r * v + j] = Math.Exp(d[r * v + j] - lse) - (j == targets[r] ? 1 : 0);
        }
        AssertClose(Read(_cpu, lt), expected, 1e-6, "dLogits");
    }

    [Test]
    public void CrossEntropyRefusesATargetOutsideTheVocabulary()
    {
        using var logits = _cpu.Allocate(DType.F32, [2, 4]);
        using var targets = I32(_cpu, [1, 4]);
        using var losses = _cpu.Allocate(DType.F32, [2]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.SoftmaxCrossEntropy(logits, targets, losses, logits, 1f));
        Assert.That(e!.Message, Does.Contain("SoftmaxCrossEntropy").And.Contain("row 1 has target 4"));
    }

    [Test]
    public void KlDivergenceMatchesFloat64AndFiniteDifferences()
    {
        var rng = new Random(3);
        int n = 3, v = 29;
        var reference = D(Random(rng, n * v, 3f));
        var logits = D(Random(rng, n * v, 3f));
        using var rt = GradCheck.NewTensor(_cpu, reference, n, v);
        using var lt = GradCheck.NewTensor(_cpu, logits, n, v);
        using var losses = _cpu.Allocate(DType.F32, [n]);
        using var dLogits = _cpu.Allocate(DType.F32, [n, v]);
        const float gradScale = 0.5f;
        _cpu.KlDivergence(rt, lt, losses, dLogits, gradScale);
        AssertClose(Read(_cpu, losses), NaiveKl(reference, logits, n, v), 1e-6, "losses");

        using var scratch = _cpu.Allocate(DType.F32, [n, v]);
        GradCheck.AssertMatches("dLogits", logits, x =>
        {
            GradCheck.Load(_cpu, lt, x);
            _cpu.KlDivergence(rt, lt, losses, scratch, 1f);
            return gradScale * Read(_cpu, losses).Sum(l => (double)l);
        }, GradCheck.ReadDouble(_cpu, dLogits));

        // In place gives the same gradient.
        GradCheck.Load(_cpu, lt, logits);
        _cpu.KlDivergence(rt, lt, losses, lt, gradScale);
        Assert.That(Read(_cpu, lt), Is.EqualTo(Read(_cpu, dLogits)));
    }

    /// <summary>Reference logits of -inf (tokens the reference forbids) have p = 0 and add nothing, not NaN.</summary>
    [Test]
    public void KlDivergenceSkipsMaskedReferenceLogits()
    {
        var rng = new Random(6);
        int n = 2, v = 100;
        var reference = Random(rng, n * v, 3f);
        for (int j = 0; j < n * v; j += 3) reference[j] = float.NegativeInfinity;
        var logits = Random(rng, n * v, 3f);
        using var rt = F32(_cpu, reference, n, v);
        using var lt = F32(_cpu, logits, n, v);
        using var losses = _cpu.Allocate(DType.F32, [n]);
        using var dLogits = _cpu.Allocate(DType.F32, [n, v]);
        _cpu.KlDivergence(rt, lt, losses, dLogits, 1f);
        for (int r = 0; r < n; r++)
        {
            var row = Enumerable.Range(r * v, v).ToArray();
            double lseP = Math.Log(row.Where(j => !float.IsNegativeInfinity(reference[j])).Sum(j => Math.Exp(reference[j])));
            double lseQ = Math.Log(row.Sum(j => Math.Exp(logits[j])));
            double expected = row.Where(j => !float.IsNegativeInfinity(reference[j]))
                .Sum(j => Math.Exp(reference[j] - lseP) * (reference[j] - lseP - (logits[j] - lseQ)));
            Assert.That(Read(_cpu, losses)[r], Is.EqualTo(expected).Within(1e-5 * (1 + expected)), $"row {r}");
        }
        Assert.That(Read(_cpu, dLogits).All(float.IsFinite), Is.True, "gradient is finite");
    }

    /// <summary>
    /// Context tokens start at the frozen model's statistics, so P_ctx starts near P_frozen: equal distributions give
    /// exactly 0, and a tiny perturbation gives a tiny KL with the right value, not cancellation noise.
    /// </summary>
    [Test]
    public void KlDivergenceOfNearlyEqualDistributionsIsAccurate()
    {
        var rng = new Random(4);
        int n = 2, v = 65536;
        var reference = Random(rng, n * v, 6f);
        var logits = reference.Select((x, i) => i < v ? x : x + 1e-3f * (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var rt = F32(_cpu, reference, n, v);
        using var lt = F32(_cpu, logits, n, v);
        using var losses = _cpu.Allocate(DType.F32, [n]);
        using var dLogits = _cpu.Allocate(DType.F32, [n, v]);
        _cpu.KlDivergence(rt, lt, losses, dLogits, 1f);
        var kl = Read(_cpu, losses);
        Assert.That(kl[0], Is.EqualTo(0f), "identical rows");
        Assert.That(Read(_cpu, dLogits).Take(v), Is.All.EqualTo(0f), "identical rows get no gradient");
        double expected = NaiveKl(D(reference), D(logits), n, v)[1];
        Assert.That(expected, Is.GreaterThan(1e-9), "the perturbed row has a KL to measure");
        Assert.That(kl[1], Is.EqualTo(expected).Within(1e-2 * expected), "perturbed row");
    }
}
