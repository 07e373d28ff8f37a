using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

public class SamplingOpTests
{
    private readonly CpuBackend _cpu = new();

    [Test]
    public void PhiloxMatchesTheRandom123KnownAnswers()
    {
        Assert.That(Philox.Block(0, 0, 0, 0, 0, 0), Is.EqualTo((0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)));
        Assert.That(Philox.Block(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff),
            Is.EqualTo((0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)));
        Assert.That(Philox.Block(0xa4093822, 0x299f31d0, 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344),
            Is.EqualTo((0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)));
    }

    [Test]
    public void CfgAtScaleOneIsExactlyTheConditionalLogits()
    {
        var rng = new Random(1);
        var c = Random(rng, 2 * 50, 10f);
        var u = Random(rng, 2 * 50, 10f);
        using var ct = F32(_cpu, c, 2, 50);
        using var ut = F32(_cpu, u, 2, 50);
        using var st = F32(_cpu, [1f, 4f], 2);
        using var ot = _cpu.Allocate(DType.F32, [2, 50]);
        _cpu.CfgCombine(ct, ut, st, ot);
        var o = Read(_cpu, ot);
        Assert.That(o[..50], Is.EqualTo(c[..50]), "scale 1 leaves cond bit-identical");
        AssertClose(o[50..], Enumerable.Range(50, 50).Select(i => u[i] + 4.0 * (c[i] - u[i])).ToArray(), 1e-5, "scale 4");
    }

    [Test]
    public void ConstrainForcesOneTokenOrAllowsARange()
    {
        var l = Random(new Random(2), 3 * 10);
        using var lt = F32(_cpu, l, 3, 10);
        using var rules = _cpu.Allocate(DType.I32, [3, 3]);
        _cpu.Upload<int>([7, 0, 0, -1, 2, 5, -1, 0, 10], rules);
        _cpu.ConstrainLogits(lt, rules);
        var o = Read(_cpu, lt);
        for (int i = 0; i < 10; i++)
        {
            Assert.That(o[i], i == 7 ? Is.EqualTo(l[i]) : Is.EqualTo(float.NegativeInfinity), $"forced row, id {i}");
            Assert.That(o[10 + i], i is >= 2 and < 5 ? Is.EqualTo(l[10 + i]) : Is.EqualTo(float.NegativeInfinity), $"range row, id {i}");
            Assert.That(o[20 + i], Is.EqualTo(l[20 + i]), $"unconstrained row, id {i}");
        }
    }

    private int Draw(float[] row, int k, float temperature, ulong seed, ulong counter)
    {
        using var lt = F32(_cpu, row, 1, row.Length);
        using var kt = I32(_cpu, [k]);
        using var tt = F32(_cpu, [temperature], 1);
        using var keys = _cpu.Allocate(DType.I32, [1, 4]);
        _cpu.Upload<int>([(int)(uint)seed, (int)(uint)(seed >> 32), (int)(uint)counter, (int)(uint)(counter >> 32)], keys);
        using var ot = _cpu.Allocate(DType.I32, [1]);
        _cpu.SampleTopK(lt, kt, tt, keys, ot);
        var o = new int[1];
        _cpu.Download<int>(ot, o);
        return o[0];
    }

    [Test]
    public void TopKDrawsFollowTheTruncatedSoftmax()
    {
        float[] row = [0.5f, 2f, -1f, 1.5f, 2f, float.NegativeInfinity, 0f, 1f];
        // k = 3: ids 1, 4 (2.0) and 3 (1.5) are kept; at temperature 0.7.
        double[] w = row.Select((x, i) => i is 1 or 3 or 4 ? Math.Exp(x / 0.7) : 0).ToArray();
        double total = w.Sum();
        var counts = new int[row.Length];
        const int draws = 20000;
        for (int s = 0; s < draws; s++) counts[Draw(row, 3, 0.7f, 42, (ulong)s)]++;
        for (int i = 0; i < row.Length; i++)
        {
            double expected = draws * w[i] / total;
            if (expected == 0) Assert.That(counts[i], Is.Zero, $"id {i} is outside the top 3");
            else Assert.That(counts[i], Is.EqualTo(expected).Within(5 * Math.Sqrt(expected)), $"id {i}");
        }
    }

    [Test]
    public void TiesWithTheKthValueAreKept()
    {
        float[] row = [3f, 1f, 1f, 1f, 0f];
        var seen = new HashSet<int>();
        for (int s = 0; s < 400; s++) seen.Add(Draw(row, 2, 5f, 9, (ulong)s));
        Assert.That(seen, Is.EquivalentTo(new[] { 0, 1, 2, 3 }), "k = 2 keeps 3 and every 1 tied with the second value");
    }

    [Test]
    public void SameKeySameDrawDifferentCounterDifferentStream()
    {
        var row = Random(new Random(3), 1000, 3f);
        var a = Enumerable.Range(0, 50).Select(s => Draw(row, 100, 1f, 77, (ulong)s)).ToArray();
        var b = Enumerable.Range(0, 50).Select(s => Draw(row, 100, 1f, 77, (ulong)s)).ToArray();
        var c = Enumerable.Range(0, 50).Select(s => Draw(row, 100, 1f, 78, (ulong)s)).ToArray();
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a, Is.Not.EqualTo(c));
    }

    [Test]
    public void KthLargestAgreesWithSorting()
    {
        var rng = new Random(4);
        var scratch = new float[300];
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(1, 300);
            var row = Enumerable.Range(0, n).Select(_ => (float)rng.Next(-20, 20)).ToArray(); // many ties
            if (trial % 5 == 0) row[rng.Next(n)] = float.NaN;
            if (trial % 3 == 0) // the layout constraint's -inf, often most of the row
                for (int i = 0; i < n; i++)
                    if (rng.Next(4) > 0) row[i] = float.NegativeInfinity;
            int k = rng.Next(1, n + 1);
            var sorted = row.Where(x => !float.IsNaN(x)).OrderByDescending(x => x).ToList();
            float expected = k >= n ? float.NegativeInfinity : k <= sorted.Count ? sorted[k - 1] : float.NaN;
            float actual = TopKSampler.KthLargest(row, k, scratch);
            Assert.That(actual, Is.EqualTo(expected), $"trial {trial}: n={n} k={k}");
        }
    }
}
