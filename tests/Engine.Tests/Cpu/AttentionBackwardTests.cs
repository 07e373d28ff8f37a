using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>AttentionBackward and KvGather (the backward of KvStore) against finite differences, with identity-masked keys.</summary>
public class AttentionBackwardTests
{
    private const int Capacity = 9, Dh = 6;

    // Two cache rows, fully filled. Row 0 holds an earlier prefix (queries only at 4..6); its key 3 (tag 4) is visible to
    // none of them, keys 7 and 8 lie after every query. Row 1 has a query at every filled position 0..4.
    private static readonly int[][] KeyTags = [[0, 1, 2, 4, 2, 1, 1, 0, 0], [0, 3, 0, 3, 0, 0, 0, 0, 0]];
    private static readonly int[] QueryRows = [1, 0, 1, 1, 0, 1, 0, 1];
    private static readonly int[] QueryPositions = [0, 4, 1, 2, 5, 3, 6, 4];

    private readonly CpuBackend _cpu = new();

    private Tensor Input(double[] values, params int[] shape) => GradCheck.NewTensor(_cpu, values, shape);

    private Tensor Ints(int[] values, params int[] shape)
    {
        var t = _cpu.Allocate(DType.I32, shape);
        _cpu.Upload<int>(values, t);
        return t;
    }

    private TokenMap Map(int[] rows, int[] positions, int[] tags) => new(I32(_cpu, rows), I32(_cpu, positions), I32(_cpu, tags));

    private static void Dispose(TokenMap m)
    {
        m.Rows.Dispose();
        m.Positions.Dispose();
        m.Tags.Dispose();
    }

    private static void Dispose(KvLayer c)
    {
        c.Keys.Dispose();
        c.Values.Dispose();
        c.KeyTags.Dispose();
    }

    [TestCase(4, 2)]
    [TestCase(3, 3)]
    [TestCase(4, 1)]
    public void GradientsOfQueriesKeysAndValuesMatchFiniteDifferences(int h, int hkv)
    {
        var rng = new Random(h * 10 + hkv);
        int t = QueryRows.Length, rowsCount = KeyTags.Length;
        var q = D(Random(rng, t * h * Dh));
        var keys = D(Random(rng, rowsCount * hkv * Capacity * Dh));
        var values = D(Random(rng, keys.Length));
        var tags = QueryRows.Select((row, i) => KeyTags[row][QueryPositions[i]]).ToArray();
        var tokens = Map(QueryRows, QueryPositions, tags);
        int[] cacheShape = [rowsCount, hkv, Capacity, Dh];
        var cache = new KvLayer(Input(keys, cacheShape), Input(values, cacheShape), Ints(KeyTags.SelectMany(r => r).ToArray(), rowsCount, Capacity));
        using var qt = Input(q, t, h, Dh);
        using var output = _cpu.Allocate(DType.F32, [t, h, Dh]);
        using var lse = _cpu.Allocate(DType.F32, [t, h]);
        float scale = 1f / MathF.Sqrt(Dh);
        var r = GradCheck.Projection(t * h * Dh, 5);
        using var dOut = Input(r, t, h, Dh);
        using var dq = _cpu.Allocate(DType.F32, [t, h, Dh]);
        using var dKeys = _cpu.Allocate(DType.F32, cacheShape);
        using var dValues = _cpu.Allocate(DType.F32, cacheShape);
        try
        {
            _cpu.Attention(qt, cache, tokens, scale, output, lse);
            _cpu.Zero(dKeys);
            _cpu.Zero(dValues);
            _cpu.AttentionBackward(qt, cache, tokens, scale, output, lse, dOut, dq, dKeys, dValues);
            double Loss()
            {
                _cpu.Attention(qt, cache, tokens, scale, output);
                return GradCheck.Project(r, Read(_cpu, output));
            }
            GradCheck.AssertMatches("dq", q, v => { GradCheck.Load(_cpu, qt, v); return Loss(); }, GradCheck.ReadDouble(_cpu, dq));
            GradCheck.Load(_cpu, qt, q);
            var dk = GradCheck.ReadDouble(_cpu, dKeys);
            GradCheck.AssertMatches("dKeys", keys, v => { GradCheck.Load(_cpu, cache.Keys, v); return Loss(); }, dk);
            GradCheck.Load(_cpu, cache.Keys, keys);
            var dv = GradCheck.ReadDouble(_cpu, dValues);
            GradCheck.AssertMatches("dValues", values, v => { GradCheck.Load(_cpu, cache.Values, v); return Loss(); }, dv);

            // Keys no query may see get exactly nothing: blocked by identity (row 0, key 3) or after every query.
            for (int kh = 0; kh < hkv; kh++)
                foreach (int j in new[] { 3, 7, 8 })
                {
                    long at = ((long)kh * Capacity + j) * Dh;
                    for (int e = 0; e < Dh; e++)
                    {
                        Assert.That(dk[at + e], Is.EqualTo(0.0), $"dKeys of row 0, head {kh}, key {j}");
                        Assert.That(dv[at + e], Is.EqualTo(0.0), $"dValues of row 0, head {kh}, key {j}");
                    }
                }
        }
        finally
        {
            Dispose(tokens);
            Dispose(cache);
        }
    }

    /// <summary>
    /// The model's path: new tokens' k/v go through KvStore into attention; their gradient comes back via KvGather. The
    /// larger case runs the parallel paths and checks a random subset of elements.
    /// </summary>
    [TestCase(new[] { 3, 4 }, 4, 2, 6, int.MaxValue)]
    [TestCase(new[] { 40, 25 }, 4, 2, 16, 50)]
    [TestCase(new[] { 75, 4 }, 2, 1, 20, 40)]
    public void GradientOfStoredTokensFlowsBackThroughKvGather(int[] rowLengths, int h, int hkv, int dh, int maxElements)
    {
        var rng = new Random(rowLengths.Sum() + dh);
        int t = rowLengths.Sum(), capacity = rowLengths.Max() + 2;
        var rows = rowLengths.SelectMany((len, row) => Enumerable.Repeat(row, len)).ToArray();
        var positions = rowLengths.SelectMany(len => Enumerable.Range(0, len)).ToArray();
        var tags = Enumerable.Range(0, t).Select(_ => rng.Next(3)).ToArray();
        var tokens = Map(rows, positions, tags);
        int[] cacheShape = [rowLengths.Length, hkv, capacity, dh];
        var cache = new KvLayer(_cpu.Allocate(DType.F32, cacheShape), _cpu.Allocate(DType.F32, cacheShape), Ints(new int[rowLengths.Length * capacity], rowLengths.Length, capacity));
        var q = D(Random(rng, t * h * dh));
        var k = D(Random(rng, t * hkv * dh));
        var v = D(Random(rng, t * hkv * dh));
        using var qt = Input(q, t, h, dh);
        using var kt = Input(k, t, hkv, dh);
        using var vt = Input(v, t, hkv, dh);
        using var output = _cpu.Allocate(DType.F32, [t, h, dh]);
        using var lse = _cpu.Allocate(DType.F32, [t, h]);
        var r = GradCheck.Projection(t * h * dh, 78);
        using var dOut = Input(r, t, h, dh);
        using var dq = _cpu.Allocate(DType.F32, [t, h, dh]);
        using var dKeys = _cpu.Allocate(DType.F32, cacheShape);
        using var dValues = _cpu.Allocate(DType.F32, cacheShape);
        using var dk = _cpu.Allocate(DType.F32, [t, hkv, dh]);
        using var dv = _cpu.Allocate(DType.F32, [t, hkv, dh]);
        float scale = 1f / MathF.Sqrt(dh);
        var options = new GradCheck.Options { MaxElements = maxElements };
        try
        {
            double Loss()
            {
                _cpu.KvStore(kt, vt, tokens, cache);
                _cpu.Attention(qt, cache, tokens, scale, output, lse);
                return GradCheck.Project(r, Read(_cpu, output));
            }
            Loss();
            _cpu.Zero(dKeys);
            _cpu.Zero(dValues);
            _cpu.AttentionBackward(qt, cache, tokens, scale, output, lse, dOut, dq, dKeys, dValues);
            _cpu.KvGather(dKeys, dValues, tokens, dk, dv);
            GradCheck.AssertMatches("dq", q, x => { GradCheck.Load(_cpu, qt, x); return Loss(); }, GradCheck.ReadDouble(_cpu, dq), options);
            GradCheck.Load(_cpu, qt, q);
            GradCheck.AssertMatches("dk", k, x => { GradCheck.Load(_cpu, kt, x); return Loss(); }, GradCheck.ReadDouble(_cpu, dk), options);
            GradCheck.Load(_cpu, kt, k);
            GradCheck.AssertMatches("dv", v, x => { GradCheck.Load(_cpu, vt, x); return Loss(); }, GradCheck.ReadDouble(_cpu, dv), options);
        }
        finally
        {
            Dispose(tokens);
            Dispose(cache);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void KvGatherIsTheGradientOfKvStore(bool accumulate)
    {
        var rng = new Random(accumulate ? 1 : 2);
        int hkv = 2;
        int[] rows = [1, 0, 1], positions = [5, 2, 0];
        int t = rows.Length;
        var tokens = Map(rows, positions, [0, 1, 0]);
        int[] cacheShape = [2, hkv, Capacity, Dh];
        var cache = new KvLayer(_cpu.Allocate(DType.F32, cacheShape), _cpu.Allocate(DType.F32, cacheShape), Ints(new int[2 * Capacity], 2, Capacity));
        var k = D(Random(rng, t * hkv * Dh));
        var v = D(Random(rng, t * hkv * Dh));
        using var kt = Input(k, t, hkv, Dh);
        using var vt = Input(v, t, hkv, Dh);
        var rk = GradCheck.Projection(2 * hkv * Capacity * Dh, 3);
        var rv = GradCheck.Projection(rk.Length, 4);
        using var dKeys = Input(rk, cacheShape);
        using var dValues = Input(rv, cacheShape);
        var dk0 = D(Random(rng, k.Length));
        var dv0 = D(Random(rng, v.Length));
        using var dk = Input(dk0, t, hkv, Dh);
        using var dv = Input(dv0, t, hkv, Dh);
        try
        {
            _cpu.Upload<float>(Random(rng, rk.Length), cache.Keys);
            _cpu.Upload<float>(Random(rng, rk.Length), cache.Values);
            _cpu.KvGather(dKeys, dValues, tokens, dk, dv, accumulate);
            var gk = GradCheck.ReadDouble(_cpu, dk);
            var gv = GradCheck.ReadDouble(_cpu, dv);
            if (accumulate)
                for (int i = 0; i < gk.Length; i++)
                {
                    gk[i] -= (float)dk0[i];
                    gv[i] -= (float)dv0[i];
                }
            double Loss()
            {
                _cpu.KvStore(kt, vt, tokens, cache);
                return GradCheck.Project(rk, Read(_cpu, cache.Keys)) + GradCheck.Project(rv, Read(_cpu, cache.Values));
            }
            GradCheck.AssertMatches("dk", k, x => { GradCheck.Load(_cpu, kt, x); return Loss(); }, gk);
            GradCheck.Load(_cpu, kt, k);
            GradCheck.AssertMatches("dv", v, x => { GradCheck.Load(_cpu, vt, x); return Loss(); }, gv);
        }
        finally
        {
            Dispose(tokens);
            Dispose(cache);
        }
    }

    [Test]
    public void AttentionBackwardNamesItsBadArgument()
    {
        int t = 2, h = 2;
        var tokens = Map([0, 0], [0, 1], [0, 0]);
        int[] cacheShape = [1, h, Capacity, Dh];
        var cache = new KvLayer(_cpu.Allocate(DType.F32, cacheShape), _cpu.Allocate(DType.F32, cacheShape), Ints(new int[Capacity], 1, Capacity));
        using var q = _cpu.Allocate(DType.F32, [t, h, Dh]);
        using var o = _cpu.Allocate(DType.F32, [t, h, Dh]);
        using var dOut = _cpu.Allocate(DType.F32, [t, h, Dh]);
        using var dq = _cpu.Allocate(DType.F32, [t, h, Dh]);
        using var lse = _cpu.Allocate(DType.F32, [t, h]);
        using var dKeys = _cpu.Allocate(DType.F32, cacheShape);
        using var shortValues = _cpu.Allocate(DType.F32, [1, h, Capacity - 1, Dh]);
        try
        {
            var e = Assert.Throws<ArgumentException>(() => _cpu.AttentionBackward(q, cache, tokens, 1f, o, lse, dOut, dq, dKeys, shortValues));
            Assert.That(e!.Message, Does.Contain("AttentionBackward").And.Contain("'dValues'"));
            e = Assert.Throws<ArgumentException>(() => _cpu.AttentionBackward(q, cache, tokens, 1f, o, lse, dOut, dq, dKeys, dKeys));
            Assert.That(e!.Message, Does.Contain("AttentionBackward").And.Contain("'dValues'").And.Contain("overlap"));
            _cpu.Upload<int>([0, Capacity], tokens.Positions);
            var range = Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.KvGather(dKeys, dKeys, tokens, dq, dOut));
            Assert.That(range!.Message, Does.Contain("KvGather").And.Contain($"position {Capacity}"));
        }
        finally
        {
            Dispose(tokens);
            Dispose(cache);
        }
    }
}
