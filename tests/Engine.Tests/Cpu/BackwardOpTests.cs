using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>
/// The dense backward ops on the CPU against finite differences of their forward ops (grad mode): for y = f(x) and a
/// fixed random r, the backward with dy = r must be the gradient of sum(r * f(x)).
/// </summary>
public class BackwardOpTests
{
    private readonly CpuBackend _cpu = new();

    private Tensor Input(double[] values, params int[] shape) => GradCheck.NewTensor(_cpu, values, shape);

    private static double[] Rand(Random rng, int count, float scale = 1f) => D(Random(rng, count, scale));

    /// <summary>dy W in float64, with w [n, k].</summary>
    private static double[] NaiveInputGrad(double[] dy, double[] w, int m, int n, int k)
    {
        var dx = new double[m * k];
        for (int i = 0; i < m; i++)
            for (int r = 0; r < n; r++)
                for (int c = 0; c < k; c++)
                    dx[i * k + c] += dy[i * n + r] * w[r * k + c];
        return dx;
    }

    [TestCase(1, 1, 1, false, false)]
    [TestCase(3, 17, 5, false, false)]
    [TestCase(5, 257, 33, true, true)]
    [TestCase(70, 300, 45, true, false)]
    [TestCase(13, 70, 1100, true, true)]
    [TestCase(8, 130, 600, false, false)]
    [TestCase(5, 1030, 40, true, false)]
    public void MatMulInputGradMatchesNaive(int m, int k, int n, bool bf16Weights, bool accumulate)
    {
        var rng = new Random(m * 1000 + k * 10 + n);
        var dy = Random(rng, m * n);
        var w = bf16Weights ? RandomBf16(rng, n * k) : Random(rng, n * k);
        var dx0 = Random(rng, m * k);
        using var dyt = F32(_cpu, dy, m, n);
        using var wt = bf16Weights ? Bf16(_cpu, w, n, k) : F32(_cpu, w, n, k);
        using var dxt = F32(_cpu, dx0, m, k);
        _cpu.MatMulInputGrad(dyt, wt, dxt, accumulate);
        var expected = NaiveInputGrad(D(dy), D(w), m, n, k);
        if (accumulate)
            for (int i = 0; i < expected.Length; i++) expected[i] += dx0[i];
        AssertClose(Read(_cpu, dxt), expected, 1e-5, "dx");
    }

    [Test]
    public void MatMulInputGradIsTheGradientOfMatMul()
    {
        var rng = new Random(11);
        int m = 3, k = 7, n = 5;
        var x = Rand(rng, m * k);
        using var w = Bf16(_cpu, RandomBf16(rng, n * k), n, k);
        using var xt = Input(x, m, k);
        using var yt = _cpu.Allocate(DType.F32, [m, n]);
        var r = GradCheck.Projection(m * n, 12);
        using var dy = Input(r, m, n);
        using var dx = _cpu.Allocate(DType.F32, [m, k]);
        _cpu.MatMulInputGrad(dy, w, dx);
        GradCheck.AssertMatches("MatMul dx", x, v =>
        {
            GradCheck.Load(_cpu, xt, v);
            _cpu.MatMul(xt, w, yt);
            return GradCheck.Project(r, Read(_cpu, yt));
        }, GradCheck.ReadDouble(_cpu, dx));
    }

    [TestCase(1, 1, 1, false)]
    [TestCase(1, 17, 5, true)]
    [TestCase(7, 33, 65, false)]
    [TestCase(300, 70, 45, true)]
    [TestCase(13, 600, 130, false)]
    [TestCase(2357, 24, 40, true)]
    public void WeightGradientMatchesNaive(int m, int n, int k, bool accumulate)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        var dy = Random(rng, m * n);
        var x = Random(rng, m * k);
        var dw0 = Random(rng, n * k);
        using var dyt = F32(_cpu, dy, m, n);
        using var xt = F32(_cpu, x, m, k);
        using var dwt = F32(_cpu, dw0, n, k);
        _cpu.WeightGradient(dyt, xt, dwt, accumulate);
        var expected = new double[n * k];
        for (int t = 0; t < m; t++)
            for (int r = 0; r < n; r++)
                for (int c = 0; c < k; c++)
                    expected[r * k + c] += (double)dy[t * n + r] * x[t * k + c];
        if (accumulate)
            for (int i = 0; i < expected.Length; i++) expected[i] += dw0[i];
        // An fp32 sum over m tokens drifts from the fp64 one like sqrt(m) roundings.
        AssertClose(Read(_cpu, dwt), expected, 1e-5 * Math.Max(1, Math.Sqrt(m / 100.0)), "dw");
    }

    [Test]
    public void WeightGradientIsTheGradientOfMatMul()
    {
        var rng = new Random(13);
        int m = 4, k = 6, n = 5;
        using var x = F32(_cpu, Random(rng, m * k), m, k);
        var w = Rand(rng, n * k);
        using var wt = Input(w, n, k);
        using var yt = _cpu.Allocate(DType.F32, [m, n]);
        var r = GradCheck.Projection(m * n, 14);
        using var dy = Input(r, m, n);
        using var dw = _cpu.Allocate(DType.F32, [n, k]);
        _cpu.WeightGradient(dy, x, dw);
        GradCheck.AssertMatches("MatMul dW", w, v =>
        {
            GradCheck.Load(_cpu, wt, v);
            _cpu.MatMul(x, wt, yt);
            return GradCheck.Project(r, Read(_cpu, yt));
        }, GradCheck.ReadDouble(_cpu, dw));
    }

    [Test]
    public void WeightGradientRejectsMisshapenArguments()
    {
        using var dy = _cpu.Allocate(DType.F32, [3, 4]);
        using var x = _cpu.Allocate(DType.F32, [2, 5]);
        using var dw = _cpu.Allocate(DType.F32, [4, 5]);
        var e = Assert.Throws<ArgumentException>(() => _cpu.WeightGradient(dy, x, dw));
        Assert.That(e!.Message, Does.Contain("WeightGradient").And.Contain("'x'").And.Contain("[2, 5]"));
        using var x3 = _cpu.Allocate(DType.F32, [3, 5]);
        using var wrong = _cpu.Allocate(DType.F32, [5, 4]);
        e = Assert.Throws<ArgumentException>(() => _cpu.WeightGradient(dy, x3, wrong));
        Assert.That(e!.Message, Does.Contain("'dw'"));
    }

    // Not D = 1: there y = w x / sqrt(x^2 + eps) is flat and its gradient is all rounding noise.
    [TestCase(1, 3)]
    [TestCase(3, 7)]
    [TestCase(2, 33)]
    public void RmsNormBackwardMatchesFiniteDifferences(int t, int d)
    {
        var rng = new Random(t * 31 + d);
        var x = Rand(rng, t * d, 2f);
        using var w = Bf16(_cpu, RandomBf16(rng, d, 2f), d);
        using var xt = Input(x, t, d);
        using var yt = _cpu.Allocate(DType.F32, [t, d]);
        var r = GradCheck.Projection(t * d, t + d);
        using var dy = Input(r, t, d);
        using var dx = _cpu.Allocate(DType.F32, [t, d]);
        _cpu.RmsNormBackward(xt, w, 1e-5f, dy, dx);
        GradCheck.AssertMatches("RmsNorm dx", x, v =>
        {
            GradCheck.Load(_cpu, xt, v);
            _cpu.RmsNorm(xt, w, 1e-5f, yt);
            return GradCheck.Project(r, Read(_cpu, yt));
        }, GradCheck.ReadDouble(_cpu, dx));
    }

    [Test]
    public void RmsNormBackwardAccumulates()
    {
        var rng = new Random(3);
        int t = 2, d = 9;
        using var x = F32(_cpu, Random(rng, t * d), t, d);
        using var w = F32(_cpu, Random(rng, d), d);
        using var dy = F32(_cpu, Random(rng, t * d), t, d);
        var dx0 = Random(rng, t * d);
        using var fresh = _cpu.Allocate(DType.F32, [t, d]);
        using var summed = F32(_cpu, dx0, t, d);
        _cpu.RmsNormBackward(x, w, 1e-5f, dy, fresh);
        _cpu.RmsNormBackward(x, w, 1e-5f, dy, summed, accumulate: true);
        AssertClose(Read(_cpu, summed), Read(_cpu, fresh).Select((g, i) => (double)g + dx0[i]).ToArray(), 1e-6, "dx");
    }

    [TestCase(3, 4, 6, 1)]
    [TestCase(3, 4, 6, 4)]
    [TestCase(2, 6, 5, 2)]
    public void HeadLayerNormBackwardMatchesFiniteDifferences(int t, int h, int dh, int groups)
    {
        var rng = new Random(t * 100 + h * 10 + dh + groups);
        var x = Rand(rng, t * h * dh, 2f);
        using var gamma = Bf16(_cpu, RandomBf16(rng, groups * dh, 2f), groups, dh);
        using var beta = Bf16(_cpu, RandomBf16(rng, groups * dh), groups, dh);
        using var xt = Input(x, t, h, dh);
        using var yt = _cpu.Allocate(DType.F32, [t, h, dh]);
        var r = GradCheck.Projection(x.Length, groups);
        using var dy = Input(r, t, h, dh);
        using var dx = _cpu.Allocate(DType.F32, [t, h, dh]);
        _cpu.HeadLayerNormBackward(xt, gamma, 1e-5f, dy, dx);
        GradCheck.AssertMatches($"HeadLayerNorm dx (G={groups})", x, v =>
        {
            GradCheck.Load(_cpu, xt, v);
            _cpu.HeadLayerNorm(xt, gamma, beta, 1e-5f, yt);
            return GradCheck.Project(r, Read(_cpu, yt));
        }, GradCheck.ReadDouble(_cpu, dx));
    }

    [Test]
    public void RopeBackwardMatchesFiniteDifferencesAndWorksInPlace()
    {
        var rng = new Random(21);
        int t = 3, h = 3, dh = 10;
        var x = Rand(rng, t * h * dh);
        using var positions = I32(_cpu, [0, 7, 33]);
        using var xt = Input(x, t, h, dh);
        using var yt = _cpu.Allocate(DType.F32, [t, h, dh]);
        var r = GradCheck.Projection(x.Length, 22);
        using var dy = Input(r, t, h, dh);
        using var dx = _cpu.Allocate(DType.F32, [t, h, dh]);
        _cpu.RopeBackward(dy, positions, 10000f, dx);
        GradCheck.AssertMatches("Rope dx", x, v =>
        {
            GradCheck.Load(_cpu, xt, v);
            _cpu.Rope(xt, positions, 10000f, yt);
            return GradCheck.Project(r, Read(_cpu, yt));
        }, GradCheck.ReadDouble(_cpu, dx));

        _cpu.RopeBackward(dy, positions, 10000f, dy);
        Assert.That(Read(_cpu, dy), Is.EqualTo(Read(_cpu, dx)), "in place gives the same");
    }

    [Test]
    public void SwiGluBackwardMatchesFiniteDifferences()
    {
        var rng = new Random(31);
        int t = 3, f = 13;
        var gate = Rand(rng, t * f, 4f);
        var up = Rand(rng, t * f, 2f);
        using var gt = Input(gate, t, f);
        using var ut = Input(up, t, f);
        using var yt = _cpu.Allocate(DType.F32, [t, f]);
        var r = GradCheck.Projection(t * f, 32);
        using var dOut = Input(r, t, f);
        using var dGate = _cpu.Allocate(DType.F32, [t, f]);
        using var dUp = _cpu.Allocate(DType.F32, [t, f]);
        _cpu.SwiGluBackward(gt, ut, dOut, dGate, dUp);
        double Loss()
        {
            _cpu.SwiGlu(gt, ut, yt);
            return GradCheck.Project(r, Read(_cpu, yt));
        }
        GradCheck.AssertMatches("SwiGlu dGate", gate, v => { GradCheck.Load(_cpu, gt, v); return Loss(); }, GradCheck.ReadDouble(_cpu, dGate));
        GradCheck.Load(_cpu, gt, gate);
        GradCheck.AssertMatches("SwiGlu dUp", up, v => { GradCheck.Load(_cpu, ut, v); return Loss(); }, GradCheck.ReadDouble(_cpu, dUp));
    }

    [Test]
    public void BackwardOpsNameTheirBadArgument()
    {
        using var x = _cpu.Allocate(DType.F32, [2, 4]);
        using var other = _cpu.Allocate(DType.F32, [2, 5]);
        using var w = _cpu.Allocate(DType.F32, [4]);
        using var ids = _cpu.Allocate(DType.I32, [2]);
        var e = Assert.Throws<ArgumentException>(() => _cpu.RmsNormBackward(x, w, 1e-5f, other, x));
        Assert.That(e!.Message, Does.Contain("RmsNormBackward").And.Contain("'dy'"));
        e = Assert.Throws<ArgumentException>(() => _cpu.RmsNormBackward(x, w, 1e-5f, x, x));
        Assert.That(e!.Message, Does.Contain("RmsNormBackward").And.Contain("overlap"));
        e = Assert.Throws<ArgumentException>(() => _cpu.MatMulInputGrad(x, other, x));
        Assert.That(e!.Message, Does.Contain("MatMulInputGrad").And.Contain("'w'").And.Contain("[2, 5]"));
        e = Assert.Throws<ArgumentException>(() => _cpu.SwiGluBackward(x, x, ids, other, x));
        Assert.That(e!.Message, Does.Contain("SwiGluBackward").And.Contain("'dOut'").And.Contain("I32"));
    }
}
