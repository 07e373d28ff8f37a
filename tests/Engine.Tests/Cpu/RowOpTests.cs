using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;
using static CoAR.Engine.Tests.Cpu.TestData;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>ScatterRows / ScatterAddRows / ZeroRows / Zero: exact results, and the gradient rules of slot injection.</summary>
public class RowOpTests
{
    private const int Width = 5;

    private readonly CpuBackend _cpu = new();

    private static float[] Row(float[] a, int row) => a.AsSpan(row * Width, Width).ToArray();

    [Test]
    public void ScatterRowsReplacesExactlyTheNamedRows()
    {
        var rng = new Random(1);
        var dest = Random(rng, 6 * Width);
        var src = Random(rng, 2 * Width);
        using var dt = F32(_cpu, dest, 6, Width);
        using var st = F32(_cpu, src, 2, Width);
        using var idx = I32(_cpu, [4, 1]);
        _cpu.ScatterRows(st, idx, dt);
        var after = Read(_cpu, dt);
        for (int row = 0; row < 6; row++)
        {
            var expected = row == 4 ? Row(src, 0) : row == 1 ? Row(src, 1) : Row(dest, row);
            Assert.That(Row(after, row), Is.EqualTo(expected), $"row {row}");
        }
    }

    [Test]
    public void ScatterAddRowsAddsRepeatedIndices()
    {
        var rng = new Random(2);
        var dest = Random(rng, 4 * Width);
        var src = Random(rng, 3 * Width);
        using var dt = F32(_cpu, dest, 4, Width);
        using var st = F32(_cpu, src, 3, Width);
        using var idx = I32(_cpu, [2, 0, 2]);
        _cpu.ScatterAddRows(st, idx, dt);
        var after = Read(_cpu, dt);
        for (int j = 0; j < Width; j++)
        {
            Assert.That(after[2 * Width + j], Is.EqualTo(dest[2 * Width + j] + src[j] + src[2 * Width + j]), $"row 2, column {j}");
            Assert.That(after[j], Is.EqualTo(dest[j] + src[Width + j]), $"row 0, column {j}");
            Assert.That(after[Width + j], Is.EqualTo(dest[Width + j]), $"row 1, column {j}");
            Assert.That(after[3 * Width + j], Is.EqualTo(dest[3 * Width + j]), $"row 3, column {j}");
        }
    }

    [Test]
    public void ZeroRowsAndZeroClear()
    {
        var rng = new Random(3);
        var dest = Random(rng, 4 * Width);
        using var dt = F32(_cpu, dest, 4, Width);
        using var idx = I32(_cpu, [3, 0, 3]);
        _cpu.ZeroRows(idx, dt);
        var after = Read(_cpu, dt);
        Assert.That(Row(after, 0), Is.All.EqualTo(0f));
        Assert.That(Row(after, 3), Is.All.EqualTo(0f));
        Assert.That(Row(after, 1), Is.EqualTo(Row(dest, 1)));
        Assert.That(Row(after, 2), Is.EqualTo(Row(dest, 2)));
        _cpu.Zero(dt);
        Assert.That(Read(_cpu, dt), Is.All.EqualTo(0f));
    }

    /// <summary>
    /// Injection y = ScatterRows(src, idx, x): the gradient w.r.t. src is GatherRows(dy, idx); the gradient w.r.t. x is dy
    /// with the overwritten rows zeroed (ZeroRows). And ScatterAddRows is the gradient of GatherRows.
    /// </summary>
    [Test]
    public void InjectionAndGatherGradientsMatchFiniteDifferences()
    {
        var rng = new Random(4);
        int t = 6, n = 2;
        var x = D(Random(rng, t * Width));
        var src = D(Random(rng, n * Width));
        using var xt = GradCheck.NewTensor(_cpu, x, t, Width);
        using var st = GradCheck.NewTensor(_cpu, src, n, Width);
        using var yt = _cpu.Allocate(DType.F32, [t, Width]);
        using var idx = I32(_cpu, [5, 2]);
        var r = GradCheck.Projection(t * Width, 5);
        using var dy = GradCheck.NewTensor(_cpu, r, t, Width);
        using var dSrc = _cpu.Allocate(DType.F32, [n, Width]);
        _cpu.GatherRows(dy, idx, dSrc);
        double Loss()
        {
            _cpu.Copy(xt, yt);
            _cpu.ScatterRows(st, idx, yt);
            return GradCheck.Project(r, Read(_cpu, yt));
        }
        GradCheck.AssertMatches("dSource", src, v => { GradCheck.Load(_cpu, st, v); return Loss(); }, GradCheck.ReadDouble(_cpu, dSrc));
        _cpu.ZeroRows(idx, dy);
        GradCheck.AssertMatches("dx", x, v => { GradCheck.Load(_cpu, xt, v); return Loss(); }, GradCheck.ReadDouble(_cpu, dy));

        using var repeated = I32(_cpu, [3, 1, 3]);
        using var gathered = _cpu.Allocate(DType.F32, [3, Width]);
        var rg = GradCheck.Projection(3 * Width, 6);
        using var dGathered = GradCheck.NewTensor(_cpu, rg, 3, Width);
        using var dx = _cpu.Allocate(DType.F32, [t, Width]);
        _cpu.Zero(dx);
        _cpu.ScatterAddRows(dGathered, repeated, dx);
        GradCheck.AssertMatches("GatherRows dx", x, v =>
        {
            GradCheck.Load(_cpu, xt, v);
            _cpu.GatherRows(xt, repeated, gathered);
            return GradCheck.Project(rg, Read(_cpu, gathered));
        }, GradCheck.ReadDouble(_cpu, dx));
    }

    [Test]
    public void BadIndicesAreRefusedByName()
    {
        using var dest = _cpu.Allocate(DType.F32, [4, Width]);
        using var src = _cpu.Allocate(DType.F32, [2, Width]);
        using var duplicate = I32(_cpu, [1, 1]);
        using var outside = I32(_cpu, [0, 4]);
        var e = Assert.Throws<ArgumentException>(() => _cpu.ScatterRows(src, duplicate, dest));
        Assert.That(e!.Message, Does.Contain("ScatterRows").And.Contain("row index 1 appears more than once"));
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.ScatterAddRows(src, outside, dest));
        Assert.That(range!.Message, Does.Contain("ScatterAddRows").And.Contain("row index 4 at 1"));
        range = Assert.Throws<ArgumentOutOfRangeException>(() => _cpu.ZeroRows(outside, dest));
        Assert.That(range!.Message, Does.Contain("ZeroRows").And.Contain("[0, 4)"));
        using var wide = _cpu.Allocate(DType.F32, [4, Width + 1]);
        e = Assert.Throws<ArgumentException>(() => _cpu.ScatterRows(src, outside, wide));
        Assert.That(e!.Message, Does.Contain("ScatterRows").And.Contain("'destination'"));
    }
}
