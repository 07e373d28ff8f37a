using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Conformance.CaseData;

namespace CoAR.Engine.Conformance;

/// <summary>
/// Conformance cases of the image tokenizer ops. The VQGAN runs in fp32 on every backend, so activations are F32
/// tensors on both sides (not the activation type) and the thresholds are fp32 ones; weights BF16 or F32.
/// </summary>
public static class VqganCases
{
    public static IEnumerable<OpCase> All()
    {
        yield return Conv("3x3 same,BF16 weight,bias,N=1,Cin=5,9x11,Cout=7", 1, 5, 9, 11, 7, 3, 3, Conv2dGeometry.Same(3), DType.BF16, bias: true);
        yield return Conv("1x1,F32 weight,N=2,Cin=16,8x8,Cout=70", 2, 16, 8, 8, 70, 1, 1, Conv2dGeometry.Pointwise, DType.F32, bias: false);
        yield return Conv("3x3 stride 2 right-bottom pad,N=1,Cin=4,10x10,Cout=6", 1, 4, 10, 10, 6, 3, 3, Conv2dGeometry.DownsampleRightBottom,
            DType.F32, bias: true);
        yield return Conv("1x3 uneven pad,N=1,Cin=3,6x7,Cout=5", 1, 3, 6, 7, 5, 1, 3, new Conv2dGeometry(1, 0, 2, 1, 0), DType.BF16, bias: true);
        yield return Conv("3x3 same,Cin=64,16x16,Cout=64", 1, 64, 16, 16, 64, 3, 3, Conv2dGeometry.Same(3), DType.F32, bias: true);

        foreach (var (n, ch, h, w, groups, swish) in new[] { (2, 8, 5, 7, 4, true), (1, 6, 4, 4, 3, false), (1, 32, 64, 64, 4, true) })
        {
            yield return new OpCase("GroupNorm", $"N={n},C={ch},{h}x{w},groups={groups}{(swish ? ",swish" : "")}", (c, r) =>
            {
                var x = c.Float(DType.F32, Uniform(r, (long)n * ch * h * w, 3f), n, ch, h, w);
                var gamma = c.Float(DType.BF16, Uniform(r, ch), ch);
                var beta = c.Float(DType.BF16, Uniform(r, ch), ch);
                c.Backend.GroupNorm(x, gamma, beta, groups, 1e-6f, swish, c.Output("y", DType.F32, n, ch, h, w));
            }, Tolerances.F32);
        }
        yield return new OpCase("GroupNorm", "in place,F32 weights,N=1,C=4,3x5,groups=2", (c, r) =>
        {
            var x = RowCases.F32Accumulator(c, "x", Uniform(r, 4 * 15, 2f), 1, 4, 3, 5);
            var gamma = c.Float(DType.F32, Uniform(r, 4), 4);
            var beta = c.Float(DType.F32, Uniform(r, 4), 4);
            c.Backend.GroupNorm(x, gamma, beta, 2, 1e-6f, swish: true, x);
        }, Tolerances.F32);

        yield return new OpCase("Upsample2x", "N=2,C=3,5x7", (c, r) =>
        {
            var x = c.Float(DType.F32, Uniform(r, 2 * 3 * 35), 2, 3, 5, 7);
            c.Backend.Upsample2x(x, c.Output("y", DType.F32, 2, 3, 10, 14));
        }, 0);

        foreach (var (n, ch, h, w) in new[] { (1, 24, 5, 7), (2, 64, 12, 12), (1, 520, 4, 5) })
        {
            yield return new OpCase("SpatialAttention", $"N={n},C={ch},{h}x{w}", (c, r) =>
            {
                long count = (long)n * ch * h * w;
                var q = c.Float(DType.F32, Uniform(r, count, 2f), n, ch, h, w);
                var k = c.Float(DType.F32, Uniform(r, count, 2f), n, ch, h, w);
                var v = c.Float(DType.F32, Uniform(r, count), n, ch, h, w);
                c.Backend.SpatialAttention(q, k, v, c.Output("y", DType.F32, n, ch, h, w));
            }, Tolerances.F32);
        }

        foreach (var (n, ch, h, w, entries, weights) in new[] { (2, 16, 5, 6, 300, DType.F32), (1, 64, 8, 8, 1000, DType.BF16) })
        {
            yield return new OpCase("CodebookArgmin", $"N={n},C={ch},{h}x{w},E={entries},{weights}", (c, r) =>
            {
                var z = c.Float(DType.F32, Uniform(r, (long)n * ch * h * w), n, ch, h, w);
                var codebook = c.Float(weights, Uniform(r, (long)entries * ch), entries, ch);
                c.Backend.CodebookArgmin(z, codebook, c.Output("codes", DType.I32, n, h * w));
            }, 0.95, Comparison.ExactFraction);
        }
        yield return new OpCase("CodebookArgmin", "duplicate entries tie to the smallest index,C=8,E=130", (c, r) =>
        {
            // Entries 65..129 repeat entries 0..64 (across a 64-entry tile boundary): every tie must pick the first copy.
            var unique = Uniform(r, 65 * 8);
            var codebook = c.Float(DType.F32, [.. unique, .. unique], 130, 8);
            var z = c.Float(DType.F32, Uniform(r, 8 * 36), 1, 8, 6, 6);
            c.Backend.CodebookArgmin(z, codebook, c.Output("codes", DType.I32, 1, 36));
        }, 1.0, Comparison.ExactFraction);

        yield return new OpCase("CodebookLookup", "N=2,C=12,4x5,E=50", (c, r) =>
        {
            var codebook = c.Float(DType.BF16, Uniform(r, 50 * 12), 50, 12);
            var codes = c.Ints(Enumerable.Range(0, 40).Select(_ => r.Next(50)).ToArray(), 2, 20);
            c.Backend.CodebookLookup(codes, codebook, c.Output("z", DType.F32, 2, 12, 4, 5));
        }, 0);
    }

    private static OpCase Conv(string variant, int n, int cin, int h, int w, int cout, int kh, int kw, Conv2dGeometry geometry, DType weights,
        bool bias) =>
        new("Conv2d", variant, (c, r) =>
        {
            var x = c.Float(DType.F32, Uniform(r, (long)n * cin * h * w), n, cin, h, w);
            var weight = c.Float(weights, Uniform(r, (long)cout * cin * kh * kw, 1f / MathF.Sqrt(cin * kh * kw)), cout, cin, kh, kw);
            var b = bias ? c.Float(weights, Uniform(r, cout), cout) : null;
            int ho = geometry.OutputSize(h, kh, height: true), wo = geometry.OutputSize(w, kw, height: false);
            c.Backend.Conv2d(x, weight, b, geometry, c.Output("y", DType.F32, n, cout, ho, wo));
        }, Tolerances.F32);
}
