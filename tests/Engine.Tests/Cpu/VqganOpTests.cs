using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>The image tokenizer ops of the CPU backend against their float64 versions in NaiveVqganOps.</summary>
public class VqganOpTests
{
    private readonly CpuBackend _cpu = new();

    private static Conv2dGeometry Geometry(string name, int kernel) => name switch
    {
        "same" => Conv2dGeometry.Same(kernel),
        "pointwise" => Conv2dGeometry.Pointwise,
        "down" => Conv2dGeometry.DownsampleRightBottom,
        "stride2pad1" => new Conv2dGeometry(2, 1, 1, 1, 1),
        "uneven" => new Conv2dGeometry(1, 0, 2, 1, 0),
        "valid" => new Conv2dGeometry(1, 0, 0, 0, 0),
        _ => throw new ArgumentException(name),
    };

    [TestCase(2, 3, 5, 5, 5, 3, "same", false, true)]
    [TestCase(1, 5, 7, 9, 7, 3, "same", true, false)]
    [TestCase(2, 4, 1, 1, 3, 3, "same", false, true)]
    [TestCase(1, 3, 5, 37, 9, 3, "same", true, true)]
    [TestCase(1, 3, 6, 20, 4, 5, "same", false, true)]
    [TestCase(1, 32, 7, 9, 33, 1, "pointwise", true, true)]
    [TestCase(2, 5, 3, 3, 2, 1, "pointwise", false, false)]
    [TestCase(2, 3, 8, 8, 5, 3, "down", false, true)]
    [TestCase(1, 5, 7, 9, 6, 3, "down", true, true)]
    [TestCase(1, 4, 5, 35, 5, 3, "down", false, false)]
    [TestCase(1, 3, 9, 7, 4, 3, "stride2pad1", true, true)]
    [TestCase(1, 2, 5, 6, 3, 2, "uneven", false, true)]
    [TestCase(2, 3, 7, 9, 5, 3, "valid", false, true)]
    public void Conv2dMatchesNaive(int n, int cin, int h, int w, int cout, int kernel, string geometry, bool bf16Weights, bool withBias)
    {
        var rng = new Random(n * 1000 + cin * 100 + h * 10 + w + cout + kernel);
        var g = Geometry(geometry, kernel);
        var x = Random(rng, n * cin * h * w, 2f);
        var wv = bf16Weights ? RandomBf16(rng, cout * cin * kernel * kernel) : Random(rng, cout * cin * kernel * kernel);
        var b = bf16Weights ? RandomBf16(rng, cout) : Random(rng, cout);
        var (expected, ho, wo) = NaiveVqganOps.Conv2d(D(x), D(wv), withBias ? D(b) : null, n, cin, h, w, cout, kernel, kernel,
            g.Stride, g.PadTop, g.PadLeft, g.PadBottom, g.PadRight);
        Assert.That((g.OutputSize(h, kernel, height: true), g.OutputSize(w, kernel, height: false)), Is.EqualTo((ho, wo)));
        using var xt = F32(_cpu, x, n, cin, h, w);
        using var wt = bf16Weights ? Bf16(_cpu, wv, cout, cin, kernel, kernel) : F32(_cpu, wv, cout, cin, kernel, kernel);
        using var bt = withBias ? (bf16Weights ? Bf16(_cpu, b, cout) : F32(_cpu, b, cout)) : null;
        using var yt = F32(_cpu, Enumerable.Repeat(float.NaN, n * cout * ho * wo).ToArray(), n, cout, ho, wo);
        _cpu.Conv2d(xt, wt, bt, g, yt);
        AssertClose(Read(_cpu, yt), expected, 1e-5, "y");
    }

    [Test]
    public void GeometryFactoriesAndOutputSizes()
    {
        Assert.That(Conv2dGeometry.Same(3), Is.EqualTo(new Conv2dGeometry(1, 1, 1, 1, 1)));
        Assert.That(Conv2dGeometry.Pointwise, Is.EqualTo(new Conv2dGeometry(1, 0, 0, 0, 0)));
        Assert.That(Conv2dGeometry.DownsampleRightBottom, Is.EqualTo(new Conv2dGeometry(2, 0, 0, 1, 1)));
        Assert.That(Conv2dGeometry.Same(3).OutputSize(768, 3, height: true), Is.EqualTo(768));
        Assert.That(Conv2dGeometry.DownsampleRightBottom.OutputSize(256, 3, height: true), Is.EqualTo(128));
        Assert.That(Conv2dGeometry.DownsampleRightBottom.OutputSize(7, 3, height: false), Is.EqualTo(3));
        Assert.That(new Conv2dGeometry(1, 0, 2, 1, 0).OutputSize(5, 2, height: true), Is.EqualTo(5));
        Assert.That(new Conv2dGeometry(1, 0, 2, 1, 0).OutputSize(5, 2, height: false), Is.EqualTo(6));
    }

    [Test]
    public void GeometryRejectsBadValues()
    {
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Conv2dGeometry(0, 0, 0, 0, 0))!.Message,
            Does.Contain("stride 0 must be at least 1"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Conv2dGeometry(1, 0, -1, 0, 0))!.Message,
            Does.Contain("left -1").And.Contain("must not be negative"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => Conv2dGeometry.Same(2))!.Message, Does.Contain("kernel 2 must be odd"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => default(Conv2dGeometry).OutputSize(4, 1, height: true))!.Message,
            Does.Contain("stride 0"));
        Assert.That(Assert.Throws<ArgumentException>(() => Conv2dGeometry.Pointwise.OutputSize(2, 3, height: false))!.Message,
            Does.Contain("input width 2 padded to 2 is smaller than the kernel (3)"));
    }

    [Test]
    public void Conv2dNamesTheArgumentWithTheWrongShape()
    {
        using var x = _cpu.Allocate(DType.F32, [1, 4, 5, 5]);
        using var w = _cpu.Allocate(DType.F32, [8, 3, 3, 3]);
        using var w4 = _cpu.Allocate(DType.BF16, [8, 4, 3, 3]);
        using var b = _cpu.Allocate(DType.F32, [7]);
        using var y = _cpu.Allocate(DType.F32, [1, 8, 5, 5]);
        using var yBad = _cpu.Allocate(DType.F32, [1, 8, 4, 4]);
        var same = Conv2dGeometry.Same(3);
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.Conv2d(x, w, null, same, y))!.Message,
            Is.EqualTo("Conv2d: argument 'weight' has shape [8, 3, 3, 3], expected [8, 4, 3, 3]"));
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.Conv2d(x, w4, b, same, y))!.Message,
            Is.EqualTo("Conv2d: argument 'bias' has shape [7], expected [8]"));
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.Conv2d(x, w4, null, same, yBad))!.Message,
            Is.EqualTo("Conv2d: argument 'y' has shape [1, 8, 4, 4], expected [1, 8, 5, 5]"));
        using var square = _cpu.Allocate(DType.F32, [4, 4, 3, 3]);
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.Conv2d(x, square, null, same, x))!.Message,
            Does.Contain("Conv2d: 'x' and 'y' overlap in memory"));
    }

    [TestCase(2, 6, 5, 5, 1, false)]
    [TestCase(2, 6, 5, 5, 6, true)]
    [TestCase(1, 32, 7, 9, 8, true)]
    [TestCase(1, 12, 3, 7, 4, false)]
    [TestCase(3, 5, 1, 1, 1, true)]
    [TestCase(1, 4, 40, 61, 2, true)]
    public void GroupNormMatchesNaive(int n, int c, int h, int w, int groups, bool swish)
    {
        var rng = new Random(n + c * 3 + h * 7 + w * 11 + groups);
        var x = Random(rng, n * c * h * w, 3f).Select(v => v + 1.5f).ToArray();
        var gamma = RandomBf16(rng, c, 2f);
        var beta = RandomBf16(rng, c);
        var expected = NaiveVqganOps.GroupNorm(D(x), D(gamma), D(beta), n, c, h * w, groups, 1e-6, swish);
        using var xt = F32(_cpu, x, n, c, h, w);
        using var gt = Bf16(_cpu, gamma, c);
        using var bt = F32(_cpu, beta, c);
        using var yt = _cpu.Allocate(DType.F32, [n, c, h, w]);
        _cpu.GroupNorm(xt, gt, bt, groups, 1e-6f, swish, yt);
        AssertClose(Read(_cpu, yt), expected, 2e-5, "y");
        _cpu.GroupNorm(xt, gt, bt, groups, 1e-6f, swish, xt);
        AssertClose(Read(_cpu, xt), expected, 2e-5, "in place");
    }

    [Test]
    public void GroupNormRejectsGroupsThatDoNotDivideChannels()
    {
        using var x = _cpu.Allocate(DType.F32, [1, 6, 2, 2]);
        using var g = _cpu.Allocate(DType.F32, [6]);
        using var g5 = _cpu.Allocate(DType.F32, [5]);
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.GroupNorm(x, g, g, 4, 1e-6f, false, x))!.Message,
            Does.Contain("GroupNorm: 4 groups do not divide 6 channels"));
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.GroupNorm(x, g5, g, 2, 1e-6f, false, x))!.Message,
            Is.EqualTo("GroupNorm: argument 'gamma' has shape [5], expected [6]"));
    }

    [Test]
    public void Upsample2xRepeatsEachPixel()
    {
        var x = Random(new Random(3), 2 * 3 * 5 * 7);
        using var xt = F32(_cpu, x, 2, 3, 5, 7);
        using var yt = _cpu.Allocate(DType.F32, [2, 3, 10, 14]);
        _cpu.Upsample2x(xt, yt);
        AssertClose(Read(_cpu, yt), NaiveVqganOps.Upsample2x(D(x), 2, 3, 5, 7), 0, "y");
        using var yBad = _cpu.Allocate(DType.F32, [2, 3, 10, 13]);
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.Upsample2x(xt, yBad))!.Message,
            Is.EqualTo("Upsample2x: argument 'y' has shape [2, 3, 10, 13], expected [2, 3, 10, 14]"));
    }

    [TestCase(1, 3, 1, 1)]
    [TestCase(2, 5, 3, 3)]
    [TestCase(2, 4, 5, 7)]
    [TestCase(1, 32, 7, 9)]
    public void SpatialAttentionMatchesNaive(int n, int c, int h, int w)
    {
        var rng = new Random(n * 100 + c * 10 + h + w);
        int count = n * c * h * w;
        var q = Random(rng, count, 2f);
        var k = Random(rng, count, 2f);
        var v = Random(rng, count);
        using var qt = F32(_cpu, q, n, c, h, w);
        using var kt = F32(_cpu, k, n, c, h, w);
        using var vt = F32(_cpu, v, n, c, h, w);
        using var yt = _cpu.Allocate(DType.F32, [n, c, h, w]);
        _cpu.SpatialAttention(qt, kt, vt, yt);
        AssertClose(Read(_cpu, yt), NaiveVqganOps.SpatialAttention(D(q), D(k), D(v), n, c, h * w), 1e-5, "y");
    }

    [Test]
    public void SpatialAttentionRejectsMismatchedInputsAndInPlace()
    {
        using var q = _cpu.Allocate(DType.F32, [1, 4, 3, 3]);
        using var k = _cpu.Allocate(DType.F32, [1, 4, 3, 2]);
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.SpatialAttention(q, k, q, q))!.Message,
            Does.Contain("SpatialAttention: 'q' [1, 4, 3, 3] and 'k' [1, 4, 3, 2] must have the same shape"));
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.SpatialAttention(q, q, q, q))!.Message,
            Does.Contain("SpatialAttention: 'q' and 'y' overlap"));
    }

    private Tensor Codes(int[] codes, int n, int p)
    {
        var t = _cpu.Allocate(DType.I32, [n, p]);
        _cpu.Upload<int>(codes, t);
        return t;
    }

    private int[] ReadCodes(Tensor t)
    {
        var a = new int[t.ElementCount];
        _cpu.Download<int>(t, a);
        return a;
    }

    /// <summary>z [N, C, P] whose position (s, i) is codebook[codes[s, i]] plus noise of the given size.</summary>
    private static float[] LatentsNear(float[] codebook, int[] codes, int n, int c, int p, float noise, Random rng)
    {
        var z = new float[n * c * p];
        for (int s = 0; s < n; s++)
            for (int i = 0; i < p; i++)
                for (int ch = 0; ch < c; ch++)
                    z[(s * c + ch) * p + i] = codebook[codes[s * p + i] * c + ch] + (float)(rng.NextDouble() * 2 - 1) * noise;
        return z;
    }

    [TestCase(37, 5, 2, 5, 7, true)]
    [TestCase(64, 32, 1, 3, 9, false)]
    [TestCase(9, 3, 3, 1, 1, true)]
    public void CodebookArgminFindsTheEntryEachLatentWasBuiltFrom(int entries, int c, int n, int h, int w, bool bf16)
    {
        var rng = new Random(entries + c + n + h + w);
        int p = h * w;
        var codebook = RandomBf16(rng, entries * c);
        var truth = Enumerable.Range(0, n * p).Select(_ => rng.Next(entries)).ToArray();
        var z = LatentsNear(codebook, truth, n, c, p, 1e-3f, rng);
        using var zt = F32(_cpu, z, n, c, h, w);
        using var cb = bf16 ? Bf16(_cpu, codebook, entries, c) : F32(_cpu, codebook, entries, c);
        using var codes = Codes(new int[n * p], n, p);
        _cpu.CodebookArgmin(zt, cb, codes);
        Assert.That(ReadCodes(codes), Is.EqualTo(truth));
    }

    [Test]
    public void CodebookArgminMatchesExactDistancesOnRandomLatents()
    {
        var rng = new Random(17);
        int entries = 50, c = 8, n = 2, h = 5, w = 7, p = h * w;
        var codebook = Random(rng, entries * c);
        var z = Random(rng, n * c * p);
        using var zt = F32(_cpu, z, n, c, h, w);
        using var cb = F32(_cpu, codebook, entries, c);
        using var codes = Codes(new int[n * p], n, p);
        _cpu.CodebookArgmin(zt, cb, codes);
        Assert.That(ReadCodes(codes), Is.EqualTo(NaiveVqganOps.CodebookArgmin(D(z), D(codebook), n, c, p, entries)));
    }

    [Test]
    public void CodebookArgminBreaksTiesTowardTheSmallestIndex()
    {
        // Entries 2 and 5 are the same vector; 0 = (-1, 0) and 1 = (1, 0) are equally far from the origin.
        float[] codebook = [-1, 0, 1, 0, 3, 3, 9, 9, 7, -7, 3, 3];
        float[] z = [3.25f, 0, 0.5f, 3.125f, 0, -0.5f]; // [1, 2, 1, 3]: positions (3.25, 3.125), (0, 0), (0.5, -0.5)
        using var zt = F32(_cpu, z, 1, 2, 1, 3);
        using var cb = F32(_cpu, codebook, 6, 2);
        using var codes = Codes(new int[3], 1, 3);
        _cpu.CodebookArgmin(zt, cb, codes);
        Assert.That(ReadCodes(codes), Is.EqualTo(new[] { 2, 0, 1 }));
    }

    [TestCase(true)]
    [TestCase(false)]
    public void CodebookLookupWritesEntriesAndRoundTripsWithArgmin(bool bf16)
    {
        var rng = new Random(bf16 ? 5 : 6);
        int entries = 23, c = 6, n = 2, h = 3, w = 5, p = h * w;
        var codebook = RandomBf16(rng, entries * c);
        var ids = Enumerable.Range(0, n * p).Select(_ => rng.Next(entries)).ToArray();
        using var cb = bf16 ? Bf16(_cpu, codebook, entries, c) : F32(_cpu, codebook, entries, c);
        using var codes = Codes(ids, n, p);
        using var zt = _cpu.Allocate(DType.F32, [n, c, h, w]);
        _cpu.CodebookLookup(codes, cb, zt);
        var expected = LatentsNear(codebook, ids, n, c, p, 0f, rng);
        Assert.That(Read(_cpu, zt), Is.EqualTo(expected));
        using var again = Codes(new int[n * p], n, p);
        _cpu.CodebookArgmin(zt, cb, again);
        Assert.That(ReadCodes(again), Is.EqualTo(ids));
    }

    [Test]
    public void CodebookOpsNameBadCodesAndShapes()
    {
        using var cb = _cpu.Allocate(DType.F32, [9, 4]);
        using var z = _cpu.Allocate(DType.F32, [2, 4, 1, 3]);
        using var codes = Codes([0, 8, 1, 2, 9, 3], 2, 3);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.CodebookLookup(codes, cb, z))!.Message,
            Does.Contain("CodebookLookup: code 9 at sample 1, position 1 is outside the codebook [0, 9)"));
        using var negative = Codes([0, -1, 1, 2, 3, 3], 2, 3);
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.CodebookLookup(negative, cb, z))!.Message,
            Does.Contain("code -1 at sample 0, position 1"));
        using var shortCodes = Codes(new int[4], 2, 2);
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.CodebookArgmin(z, cb, shortCodes))!.Message,
            Is.EqualTo("CodebookArgmin: argument 'codes' has shape [2, 2], expected [2, 3]"));
        using var wide = _cpu.Allocate(DType.F32, [9, 5]);
        Assert.That(Assert.Throws<ArgumentException>(() => _cpu.CodebookArgmin(z, wide, codes))!.Message,
            Is.EqualTo("CodebookArgmin: argument 'codebook' has shape [9, 5], expected [9, 4]"));
    }
}
