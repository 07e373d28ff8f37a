using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>Every CPU op against its float64 version in NaiveOps, on random inputs and odd sizes.</summary>
public class CpuOpTests
{
    private readonly CpuBackend _cpu = new();

    [TestCase(1, 1, 1, false)]
    [TestCase(3, 17, 5, false)]
    [TestCase(7, 64, 33, true)]
    [TestCase(2, 130, 70, true)]
    [TestCase(33, 96, 47, false)]
    [TestCase(13, 301, 1100, true)]
    [TestCase(11, 600, 70, false)]
    [TestCase(6, 257, 64, true)]
    public void MatMulMatchesNaive(int m, int k, int n, bool bf16Weights)
    {
        var rng = new Random(m * 1000 + k * 10 + n);
        var x = Random(rng, m * k);
        var w = bf16Weights ? RandomBf16(rng, n * k) : Random(rng, n * k);
        using var xt = F32(_cpu, x, m, k);
        using var wt = bf16Weights ? Bf16(_cpu, w, n, k) : F32(_cpu, w, n, k);
        using var yt = _cpu.Allocate(DType.F32, [m, n]);
        _cpu.MatMul(xt, wt, yt);
        AssertClose(Read(_cpu, yt), NaiveOps.MatMul(D(x), D(w), m, k, n), 1e-5, "y");
    }

    /// <summary>Every row's result is bit-identical whether it is multiplied alone or in a batch (an image's tokens do not depend on its batch).</summary>
    [TestCase(true)]
    [TestCase(false)]
    public void MatMulRowsDoNotDependOnTheBatch(bool bf16Weights)
    {
        var rng = new Random(3);
        int m = 17, k = 300, n = 600;
        var x = Random(rng, m * k);
        var w = bf16Weights ? RandomBf16(rng, n * k) : Random(rng, n * k);
        using var wt = bf16Weights ? Bf16(_cpu, w, n, k) : F32(_cpu, w, n, k);
        float[] Rows(int first, int count)
        {
            using var xt = F32(_cpu, x.AsSpan(first * k, count * k).ToArray(), count, k);
            using var yt = _cpu.Allocate(DType.F32, [count, n]);
            _cpu.MatMul(xt, wt, yt);
            return Read(_cpu, yt);
        }
        var all = Rows(0, m);
        foreach (var (first, count) in new[] { (0, 1), (5, 1), (16, 1), (3, 2), (7, 4), (10, 5), (2, 13) })
            Assert.That(Rows(first, count), Is.EqualTo(all.AsSpan(first * n, count * n).ToArray()), $"rows {first}..{first + count - 1} alone");
    }

    [Test]
    public void MatMulAccumulatesIntoOutput()
    {
        var rng = new Random(5);
        int m = 4, k = 9, n = 11;
        var x = Random(rng, m * k);
        var w = Random(rng, n * k);
        var y0 = Random(rng, m * n);
        using var xt = F32(_cpu, x, m, k);
        using var wt = F32(_cpu, w, n, k);
        using var yt = F32(_cpu, y0, m, n);
        _cpu.MatMul(xt, wt, yt, accumulate: true);
        var expected = NaiveOps.MatMul(D(x), D(w), m, k, n).Select((v, i) => v + y0[i]).ToArray();
        AssertClose(Read(_cpu, yt), expected, 1e-5, "y");
    }

    [Test]
    public void MatMulRejectsMismatchedShapes()
    {
        using var x = _cpu.Allocate(DType.F32, [2, 3]);
        using var w = _cpu.Allocate(DType.F32, [4, 5]);
        using var y = _cpu.Allocate(DType.F32, [2, 4]);
        var e = Assert.Throws<ArgumentException>(() => _cpu.MatMul(x, w, y));
        Assert.That(e!.Message, Does.Contain("MatMul").And.Contain("'w'").And.Contain("[4, 5]").And.Contain("[4, 3]"));
    }

    [TestCase(1, 1)]
    [TestCase(3, 7)]
    [TestCase(5, 64)]
    [TestCase(2, 257)]
    public void RmsNormMatchesNaive(int t, int d)
    {
        var rng = new Random(t * 31 + d);
        var x = Random(rng, t * d, 3f);
        var w = RandomBf16(rng, d);
        using var xt = F32(_cpu, x, t, d);
        using var wt = Bf16(_cpu, w, d);
        using var yt = _cpu.Allocate(DType.F32, [t, d]);
        _cpu.RmsNorm(xt, wt, 1e-5f, yt);
        AssertClose(Read(_cpu, yt), NaiveOps.RmsNorm(D(x), D(w), t, d, 1e-5), 1e-5, "y");
        // In place gives the same.
        _cpu.RmsNorm(xt, wt, 1e-5f, xt);
        AssertClose(Read(_cpu, xt), NaiveOps.RmsNorm(D(x), D(w), t, d, 1e-5), 1e-5, "in place");
    }

    [TestCase(1, 1, 2, 1)]
    [TestCase(3, 4, 8, 1)]
    [TestCase(2, 4, 6, 2)]
    [TestCase(5, 6, 16, 6)]
    [TestCase(3, 8, 10, 4)]
    public void HeadLayerNormMatchesNaive(int t, int h, int dh, int groups)
    {
        var rng = new Random(t + h * 7 + dh * 13 + groups);
        var x = Random(rng, t * h * dh, 2f);
        var g = RandomBf16(rng, groups * dh);
        var b = RandomBf16(rng, groups * dh);
        using var xt = F32(_cpu, x, t, h, dh);
        using var gt = Bf16(_cpu, g, groups, dh);
        using var bt = Bf16(_cpu, b, groups, dh);
        using var yt = _cpu.Allocate(DType.F32, [t, h, dh]);
        _cpu.HeadLayerNorm(xt, gt, bt, 1e-5f, yt);
        AssertClose(Read(_cpu, yt), NaiveOps.HeadLayerNorm(D(x), D(g), D(b), t, h, dh, groups, 1e-5), 2e-5, "y");
    }

    [Test]
    public void HeadLayerNormRejectsGroupsThatDoNotDivideHeads()
    {
        using var x = _cpu.Allocate(DType.F32, [1, 4, 8]);
        using var g = _cpu.Allocate(DType.F32, [3, 8]);
        var e = Assert.Throws<ArgumentException>(() => _cpu.HeadLayerNorm(x, g, g, 1e-5f, x));
        Assert.That(e!.Message, Does.Contain("3 norm groups do not divide 4 heads"));
    }

    [TestCase(1, 1, 2, 10000f)]
    [TestCase(4, 3, 8, 10000f)]
    [TestCase(3, 2, 128, 10000f)]
    [TestCase(5, 1, 6, 500f)]
    public void RopeMatchesNaive(int t, int h, int dh, float theta)
    {
        var rng = new Random(t * 5 + h + dh);
        var x = Random(rng, t * h * dh);
        var pos = Enumerable.Range(0, t).Select(i => i * 37 % 2400).ToArray();
        using var xt = F32(_cpu, x, t, h, dh);
        using var pt = I32(_cpu, pos);
        using var yt = _cpu.Allocate(DType.F32, [t, h, dh]);
        _cpu.Rope(xt, pt, theta, yt);
        // The angle is formed in fp32 like the reference; at position ~2400 that costs up to ~1e-4 in the angle.
        AssertClose(Read(_cpu, yt), NaiveOps.Rope(D(x), pos, t, h, dh, theta), 5e-4, "y");
    }

    [Test]
    public void RopeAtPositionZeroIsIdentity()
    {
        var x = Random(new Random(1), 2 * 16);
        using var xt = F32(_cpu, x, 1, 2, 16);
        using var pt = I32(_cpu, [0]);
        _cpu.Rope(xt, pt, 10000f, xt);
        Assert.That(Read(_cpu, xt), Is.EqualTo(x));
    }

    [TestCase(7, 3)]
    [TestCase(64, 1)]
    [TestCase(1, 5)]
    public void SwiGluMatchesNaive(int f, int t)
    {
        var rng = new Random(f + t);
        var g = Random(rng, t * f, 4f);
        var u = Random(rng, t * f, 2f);
        using var gt = F32(_cpu, g, t, f);
        using var ut = F32(_cpu, u, t, f);
        using var yt = _cpu.Allocate(DType.F32, [t, f]);
        _cpu.SwiGlu(gt, ut, yt);
        AssertClose(Read(_cpu, yt), g.Select((gv, i) => NaiveOps.Silu(gv) * u[i]).ToArray(), 1e-6, "y");
    }

    [Test]
    public void AddMatchesNaive()
    {
        var rng = new Random(9);
        var a = Random(rng, 3 * 13);
        var b = Random(rng, 3 * 13);
        using var at = F32(_cpu, a, 3, 13);
        using var bt = F32(_cpu, b, 3, 13);
        _cpu.Add(at, bt, at);
        AssertClose(Read(_cpu, at), a.Select((v, i) => (double)v + b[i]).ToArray(), 1e-7, "a + b");
    }

    [TestCase(true)]
    [TestCase(false)]
    public void EmbeddingGathersRows(bool bf16)
    {
        var rng = new Random(2);
        int vocab = 11, d = 5;
        var table = RandomBf16(rng, vocab * d);
        int[] ids = [3, 0, 10, 3];
        using var tt = bf16 ? Bf16(_cpu, table, vocab, d) : F32(_cpu, table, vocab, d);
        using var it = I32(_cpu, ids);
        using var yt = _cpu.Allocate(DType.F32, [ids.Length, d]);
        _cpu.Embedding(tt, it, yt);
        var expected = ids.SelectMany(id => table.Skip(id * d).Take(d)).Select(v => (double)v).ToArray();
        AssertClose(Read(_cpu, yt), expected, 0, "rows");
    }

    [Test]
    public void EmbeddingRejectsIdOutsideVocabulary()
    {
        using var table = _cpu.Allocate(DType.F32, [4, 2]);
        using var ids = I32(_cpu, [1, 4]);
        using var y = _cpu.Allocate(DType.F32, [2, 2]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.Embedding(table, ids, y));
        Assert.That(e!.Message, Does.Contain("token id 4 at index 1").And.Contain("[0, 4)"));
    }

    [Test]
    public void GatherRowsPicksRowsInOrder()
    {
        var x = Random(new Random(4), 5 * 3);
        using var xt = F32(_cpu, x, 5, 3);
        using var it = I32(_cpu, [4, 1, 4]);
        using var yt = _cpu.Allocate(DType.F32, [3, 3]);
        _cpu.GatherRows(xt, it, yt);
        var expected = new[] { 4, 1, 4 }.SelectMany(r => x.Skip(r * 3).Take(3)).Select(v => (double)v).ToArray();
        AssertClose(Read(_cpu, yt), expected, 0, "rows");
    }
}
