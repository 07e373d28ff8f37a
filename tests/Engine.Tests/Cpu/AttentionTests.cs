using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>KvStore + Attention on the CPU: against float64 attention, and hand-built identity-mask cases.</summary>
public class AttentionTests
{
    private readonly CpuBackend _cpu = new();

    /// <summary>A cache and a packed batch that fills each row from position 0 with its tokens.</summary>
    private sealed class Setup : IDisposable
    {
        public required KvLayer Cache;
        public required TokenMap Tokens;
        public required Tensor Q, K, V, Output, Lse;
        public required int[] Rows, Positions, Tags;

        public void Dispose()
        {
            foreach (var t in new[] { Cache.Keys, Cache.Values, Cache.KeyTags, Tokens.Rows, Tokens.Positions, Tokens.Tags, Q, K, V, Output, Lse })
                t.Dispose();
        }
    }

    private Setup Build(int[] rowLengths, int h, int hkv, int dh, int[] tags, float[] q, float[] k, float[] v, int capacity)
    {
        var rows = rowLengths.SelectMany((len, r) => Enumerable.Repeat(r, len)).ToArray();
        var positions = rowLengths.SelectMany(len => Enumerable.Range(0, len)).ToArray();
        int t = rows.Length;
        var cache = new KvLayer(
            _cpu.Allocate(DType.F32, [rowLengths.Length, hkv, capacity, dh]),
            _cpu.Allocate(DType.F32, [rowLengths.Length, hkv, capacity, dh]),
            I32Matrix(rowLengths.Length, capacity));
        var tokens = new TokenMap(I32(_cpu, rows), I32(_cpu, positions), I32(_cpu, tags));
        return new Setup
        {
            Cache = cache, Tokens = tokens, Rows = rows, Positions = positions, Tags = tags,
            Q = F32(_cpu, q, t, h, dh), K = F32(_cpu, k, t, hkv, dh), V = F32(_cpu, v, t, hkv, dh),
            Output = _cpu.Allocate(DType.F32, [t, h, dh]), Lse = _cpu.Allocate(DType.F32, [t, h]),
        };
    }

    private Tensor I32Matrix(int rows, int cols)
    {
        var t = _cpu.Allocate(DType.I32, [rows, cols]);
        _cpu.Upload<int>(new int[rows * cols], t);
        return t;
    }

    [TestCase(new[] { 5 }, 2, 2, 8)]
    [TestCase(new[] { 3, 7, 1 }, 4, 2, 6)]
    [TestCase(new[] { 9, 4 }, 3, 1, 5)]
    [TestCase(new[] { 2, 2, 2, 2 }, 2, 2, 16)]
    [TestCase(new[] { 150, 70 }, 4, 2, 16)]
    [TestCase(new[] { 130 }, 2, 1, 20)]
    [TestCase(new[] { 90, 3 }, 2, 2, 128)]
    public void MatchesNaiveAttention(int[] rowLengths, int h, int hkv, int dh)
    {
        var rng = new Random(rowLengths.Sum() * 17 + h * 3 + dh);
        int t = rowLengths.Sum();
        var q = Random(rng, t * h * dh);
        var k = Random(rng, t * hkv * dh);
        var v = Random(rng, t * hkv * dh);
        var tags = Enumerable.Range(0, t).Select(i => rng.Next(3)).ToArray();
        using var s = Build(rowLengths, h, hkv, dh, tags, q, k, v, capacity: rowLengths.Max() + 3);
        _cpu.KvStore(s.K, s.V, s.Tokens, s.Cache);
        float scale = 1f / MathF.Sqrt(dh);
        _cpu.Attention(s.Q, s.Cache, s.Tokens, scale, s.Output, s.Lse);

        // The naive version gets each row's keys/values/tags as plain arrays [S][Hkv][Dh].
        int rowsCount = rowLengths.Length;
        var keys = new double[rowsCount][];
        var values = new double[rowsCount][];
        var keyTags = new int[rowsCount][];
        for (int r = 0; r < rowsCount; r++)
        {
            var idx = Enumerable.Range(0, t).Where(i => s.Rows[i] == r).ToArray();
            keys[r] = idx.SelectMany(i => k.Skip(i * hkv * dh).Take(hkv * dh)).Select(x => (double)x).ToArray();
            values[r] = idx.SelectMany(i => v.Skip(i * hkv * dh).Take(hkv * dh)).Select(x => (double)x).ToArray();
            keyTags[r] = idx.Select(i => tags[i]).ToArray();
        }
        var (expected, lse) = NaiveOps.Attention(D(q), t, h, dh, keys, values, keyTags, hkv, s.Rows, s.Positions, tags, scale);
        AssertClose(Read(_cpu, s.Output), expected, 1e-5, "output");
        AssertClose(Read(_cpu, s.Lse), lse, 1e-5, "logsumexp");
    }

    /// <summary>
    /// A row's outputs are bit-identical whether it is attended alone or packed with other rows (prefill), and a decode
    /// step's query gives the same result alone or beside other rows' queries: an image's tokens do not depend on its batch.
    /// </summary>
    [Test]
    public void RowsDoNotDependOnTheBatch()
    {
        int h = 4, hkv = 2, dh = 16;
        int[] lengths = [70, 9, 130];
        var rng = new Random(8);
        int t = lengths.Sum();
        var q = Random(rng, t * h * dh);
        var k = Random(rng, t * hkv * dh);
        var v = Random(rng, t * hkv * dh);
        var tags = Enumerable.Range(0, t).Select(i => rng.Next(3)).ToArray();
        float[] Run(int[] rowLengths, int first, int count)
        {
            var part = tags.AsSpan(first, count).ToArray();
            float[] Slice(float[] a, int width) => a.AsSpan(first * width, count * width).ToArray();
            using var s = Build(rowLengths, h, hkv, dh, part, Slice(q, h * dh), Slice(k, hkv * dh), Slice(v, hkv * dh), capacity: 140);
            _cpu.KvStore(s.K, s.V, s.Tokens, s.Cache);
            _cpu.Attention(s.Q, s.Cache, s.Tokens, 0.25f, s.Output, s.Lse);
            return Read(_cpu, s.Output);
        }
        var all = Run(lengths, 0, t);
        int start = 0;
        foreach (int len in lengths)
        {
            Assert.That(Run([len], start, len), Is.EqualTo(all.AsSpan(start * h * dh, len * h * dh).ToArray()), $"row of {len} tokens alone");
            start += len;
        }
    }

    /// <summary>
    /// With all queries and keys zero every visible key gets the same score, and value j = e_j (one-hot), so the
    /// output of a query IS its attention weights: 1/n on each visible key, exactly 0 elsewhere.
    /// </summary>
    private float[][] Weights(int[] tags)
    {
        int t = tags.Length, dh = t;
        var q = new float[t * dh];
        var k = new float[t * dh];
        var v = new float[t * dh];
        for (int j = 0; j < t; j++) v[j * dh + j] = 1f;
        using var s = Build([t], 1, 1, dh, tags, q, k, v, capacity: t);
        _cpu.KvStore(s.K, s.V, s.Tokens, s.Cache);
        _cpu.Attention(s.Q, s.Cache, s.Tokens, 1f, s.Output);
        var o = Read(_cpu, s.Output);
        return Enumerable.Range(0, t).Select(i => o.Skip(i * dh).Take(dh).ToArray()).ToArray();
    }

    [Test]
    public void CausalityHolds()
    {
        var w = Weights([0, 0, 0, 0]);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.That(w[i][j], Is.EqualTo(j <= i ? 1f / (i + 1) : 0f).Within(1e-7), $"query {i} key {j}");
    }

    [Test]
    public void BlockedPairsGetExactlyZeroWeight()
    {
        // prompt, concept 1, concept 2, concept 1, image token
        int[] tags = [0, 1, 2, 1, 0];
        var w = Weights(tags);
        Assert.That(w[2][1], Is.EqualTo(0f), "concept 2 must not see concept 1");
        Assert.That(w[3][2], Is.EqualTo(0f), "concept 1 must not see concept 2");
        Assert.That(w[3][1], Is.GreaterThan(0f), "a concept sees its own tokens");
        Assert.That(w[3][0], Is.GreaterThan(0f), "a concept sees ordinary tokens");
        Assert.That(w[2].Sum(), Is.EqualTo(1f).Within(1e-6), "weights of the visible keys sum to one");
        Assert.That(w[2][0], Is.EqualTo(0.5f).Within(1e-7), "concept 2 sees only the prompt and itself");
    }

    [Test]
    public void OrdinaryTokensSeeEveryTag()
    {
        int[] tags = [1, 2, 3, 0];
        var w = Weights(tags);
        for (int j = 0; j < 4; j++)
            Assert.That(w[3][j], Is.EqualTo(0.25f).Within(1e-7), $"untagged query sees key {j}");
    }

    [Test]
    public void PositionOutsideCacheIsRefused()
    {
        var q = new float[4];
        using var s = Build([1], 1, 1, 4, [0], q, q, q, capacity: 1);
        _cpu.Upload<int>([1], s.Tokens.Positions);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.KvStore(s.K, s.V, s.Tokens, s.Cache));
        Assert.That(e!.Message, Does.Contain("position 1").And.Contain("holds 1 positions"));
    }
}
