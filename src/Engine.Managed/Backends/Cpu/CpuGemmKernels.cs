using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// The register-blocked microkernels of <see cref="CpuGemm"/>: a tile of C of up to <see cref="Rows"/> rows x
/// <see cref="Width"/> columns is held in vector accumulators (24 with AVX-512, 12 with AVX2's 16 registers) while
/// the depth runs, each step broadcasting one A value per row against the packed B panel's row of Width floats: one
/// FMA per accumulator, no horizontal sums.
/// </summary>
internal static unsafe class CpuGemmKernels
{
    /// <summary>Rows of A (and C) per tile.</summary>
    public const int Rows = 6;

    /// <summary>Whether the AVX-512 kernel runs (4 x 16 floats per panel row); else the portable Vector&lt;float&gt; one (2 vectors).</summary>
    public static bool Wide => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>Columns of C per tile, the width of a packed B panel.</summary>
    public static int Width { get; } = Wide ? 4 * Vector512<float>.Count : 2 * Vector<float>.Count;

    /// <summary>
    /// C[r, j] = (add ? C[r, j] : 0) + sum over p &lt; depth of a[r * lda + p] * panel[p * Width + j] for r &lt;
    /// <paramref name="rows"/> (1 to <see cref="Rows"/>), j &lt; Width; C rows are <paramref name="ldc"/> floats apart.
    /// Each C element is one FMA chain over p in order, whichever kernel computes it: a row's result does not depend
    /// on how many rows are multiplied with it (an image's tokens do not depend on its batch).
    /// </summary>
    public static void Tile(int rows, int depth, float* a, long lda, float* panel, float* c, long ldc, bool add)
    {
        switch (rows)
        {
            case 6: Tile<Six>(depth, a, lda, panel, c, ldc, add); break;
            case 5: Tile<Four>(depth, a, lda, panel, c, ldc, add); Tile<One>(depth, a + 4 * lda, lda, panel, c + 4 * ldc, ldc, add); break;
            case 4: Tile<Four>(depth, a, lda, panel, c, ldc, add); break;
            case 3: Tile<Two>(depth, a, lda, panel, c, ldc, add); Tile<One>(depth, a + 2 * lda, lda, panel, c + 2 * ldc, ldc, add); break;
            case 2: Tile<Two>(depth, a, lda, panel, c, ldc, add); break;
            case 1: Tile<One>(depth, a, lda, panel, c, ldc, add); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, $"a tile has 1 to {Rows} rows");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TRows>(int depth, float* a, long lda, float* panel, float* c, long ldc, bool add) where TRows : struct, IRowCount
    {
        if (Wide) Tile512<TRows>(depth, a, lda, panel, c, ldc, add);
        else TilePortable<TRows>(depth, a, lda, panel, c, ldc, add);
    }

    /// <summary>How many rows a kernel instance computes: a constant to the JIT, so the unused rows' code is removed.</summary>
    internal interface IRowCount
    {
        static abstract int Count { get; }
    }

    internal readonly struct One : IRowCount { public static int Count => 1; }
    internal readonly struct Two : IRowCount { public static int Count => 2; }
    internal readonly struct Three : IRowCount { public static int Count => 3; }
    internal readonly struct Four : IRowCount { public static int Count => 4; }
    internal readonly struct Six : IRowCount { public static int Count => 6; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<TRows>(int depth, float* a, long lda, float* b, float* c, long ldc, bool add) where TRows : struct, IRowCount
    {
        int n = TRows.Count;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        float* r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc, r4 = c + 4 * ldc, r5 = c + 5 * ldc;
        if (add)
        {
            c00 = Vector512.Load(r0); c01 = Vector512.Load(r0 + 16); c02 = Vector512.Load(r0 + 32); c03 = Vector512.Load(r0 + 48);
            if (n > 1) { c10 = Vector512.Load(r1); c11 = Vector512.Load(r1 + 16); c12 = Vector512.Load(r1 + 32); c13 = Vector512.Load(r1 + 48); }
            if (n > 2) { c20 = Vector512.Load(r2); c21 = Vector512.Load(r2 + 16); c22 = Vector512.Load(r2 + 32); c23 = Vector512.Load(r2 + 48); }
            if (n > 3) { c30 = Vector512.Load(r3); c31 = Vector512.Load(r3 + 16); c32 = Vector512.Load(r3 + 32); c33 = Vector512.Load(r3 + 48); }
            if (n > 4) { c40 = Vector512.Load(r4); c41 = Vector512.Load(r4 + 16); c42 = Vector512.Load(r4 + 32); c43 = Vector512.Load(r4 + 48); }
            if (n > 5) { c50 = Vector512.Load(r5); c51 = Vector512.Load(r5 + 16); c52 = Vector512.Load(r5 + 32); c53 = Vector512.Load(r5 + 48); }
        }
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
        for (int p = 0; p < depth; p++, b += 64)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var b2 = Vector512.Load(b + 32);
            var b3 = Vector512.Load(b + 48);
            var x = Vector512.Create(a0[p]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            c02 = Vector512.FusedMultiplyAdd(x, b2, c02); c03 = Vector512.FusedMultiplyAdd(x, b3, c03);
            if (n > 1)
            {
                x = Vector512.Create(a1[p]);
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                c12 = Vector512.FusedMultiplyAdd(x, b2, c12); c13 = Vector512.FusedMultiplyAdd(x, b3, c13);
            }
            if (n > 2)
            {
                x = Vector512.Create(a2[p]);
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                c22 = Vector512.FusedMultiplyAdd(x, b2, c22); c23 = Vector512.FusedMultiplyAdd(x, b3, c23);
            }
            if (n > 3)
            {
                x = Vector512.Create(a3[p]);
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                c32 = Vector512.FusedMultiplyAdd(x, b2, c32); c33 = Vector512.FusedMultiplyAdd(x, b3, c33);
            }
            if (n > 4)
            {
                x = Vector512.Create(a4[p]);
                c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
                c42 = Vector512.FusedMultiplyAdd(x, b2, c42); c43 = Vector512.FusedMultiplyAdd(x, b3, c43);
            }
            if (n > 5)
            {
                x = Vector512.Create(a5[p]);
                c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
                c52 = Vector512.FusedMultiplyAdd(x, b2, c52); c53 = Vector512.FusedMultiplyAdd(x, b3, c53);
            }
        }
        c00.Store(r0); c01.Store(r0 + 16); c02.Store(r0 + 32); c03.Store(r0 + 48);
        if (n > 1) { c10.Store(r1); c11.Store(r1 + 16); c12.Store(r1 + 32); c13.Store(r1 + 48); }
        if (n > 2) { c20.Store(r2); c21.Store(r2 + 16); c22.Store(r2 + 32); c23.Store(r2 + 48); }
        if (n > 3) { c30.Store(r3); c31.Store(r3 + 16); c32.Store(r3 + 32); c33.Store(r3 + 48); }
        if (n > 4) { c40.Store(r4); c41.Store(r4 + 16); c42.Store(r4 + 32); c43.Store(r4 + 48); }
        if (n > 5) { c50.Store(r5); c51.Store(r5 + 16); c52.Store(r5 + 32); c53.Store(r5 + 48); }
    }

    /// <summary>The same tile with the machine's Vector&lt;float&gt; (AVX2: 8 floats; 12 accumulators fit its 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TilePortable<TRows>(int depth, float* a, long lda, float* b, float* c, long ldc, bool add) where TRows : struct, IRowCount
    {
        int n = TRows.Count, w = Vector<float>.Count;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc, r4 = c + 4 * ldc, r5 = c + 5 * ldc;
        if (add)
        {
            c00 = Load(r0); c01 = Load(r0 + w);
            if (n > 1) { c10 = Load(r1); c11 = Load(r1 + w); }
            if (n > 2) { c20 = Load(r2); c21 = Load(r2 + w); }
            if (n > 3) { c30 = Load(r3); c31 = Load(r3 + w); }
            if (n > 4) { c40 = Load(r4); c41 = Load(r4 + w); }
            if (n > 5) { c50 = Load(r5); c51 = Load(r5 + w); }
        }
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
        for (int p = 0; p < depth; p++, b += 2 * w)
        {
            var b0 = Load(b);
            var b1 = Load(b + w);
            var x = new Vector<float>(a0[p]);
            c00 = Vector.FusedMultiplyAdd(x, b0, c00); c01 = Vector.FusedMultiplyAdd(x, b1, c01);
            if (n > 1) { x = new Vector<float>(a1[p]); c10 = Vector.FusedMultiplyAdd(x, b0, c10); c11 = Vector.FusedMultiplyAdd(x, b1, c11); }
            if (n > 2) { x = new Vector<float>(a2[p]); c20 = Vector.FusedMultiplyAdd(x, b0, c20); c21 = Vector.FusedMultiplyAdd(x, b1, c21); }
            if (n > 3) { x = new Vector<float>(a3[p]); c30 = Vector.FusedMultiplyAdd(x, b0, c30); c31 = Vector.FusedMultiplyAdd(x, b1, c31); }
            if (n > 4) { x = new Vector<float>(a4[p]); c40 = Vector.FusedMultiplyAdd(x, b0, c40); c41 = Vector.FusedMultiplyAdd(x, b1, c41); }
            if (n > 5) { x = new Vector<float>(a5[p]); c50 = Vector.FusedMultiplyAdd(x, b0, c50); c51 = Vector.FusedMultiplyAdd(x, b1, c51); }
        }
        Store(c00, r0); Store(c01, r0 + w);
        if (n > 1) { Store(c10, r1); Store(c11, r1 + w); }
        if (n > 2) { Store(c20, r2); Store(c21, r2 + w); }
        if (n > 3) { Store(c30, r3); Store(c31, r3 + w); }
        if (n > 4) { Store(c40, r4); Store(c41, r4 + w); }
        if (n > 5) { Store(c50, r5); Store(c51, r5 + w); }
    }

    /// <summary>
    /// Loads 16 rows of 16 32-bit lanes (rows <paramref name="rowBytes"/> apart from <paramref name="s"/>) and
    /// transposes them in registers (unpack, unpack as pairs, two 128-bit shuffles): r[j] holds lane j of every row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadTransposed16(byte* s, long rowBytes, out Vector512<float> r0, out Vector512<float> r1, out Vector512<float> r2,
        out Vector512<float> r3, out Vector512<float> r4, out Vector512<float> r5, out Vector512<float> r6, out Vector512<float> r7,
        out Vector512<float> r8, out Vector512<float> r9, out Vector512<float> ra, out Vector512<float> rb,
        out Vector512<float> rc, out Vector512<float> rd, out Vector512<float> re, out Vector512<float> rf)
    {
        r0 = Vector512.Load((float*)s); r1 = Vector512.Load((float*)(s + rowBytes));
        r2 = Vector512.Load((float*)(s + 2 * rowBytes)); r3 = Vector512.Load((float*)(s + 3 * rowBytes));
        r4 = Vector512.Load((float*)(s + 4 * rowBytes)); r5 = Vector512.Load((float*)(s + 5 * rowBytes));
        r6 = Vector512.Load((float*)(s + 6 * rowBytes)); r7 = Vector512.Load((float*)(s + 7 * rowBytes));
        r8 = Vector512.Load((float*)(s + 8 * rowBytes)); r9 = Vector512.Load((float*)(s + 9 * rowBytes));
        ra = Vector512.Load((float*)(s + 10 * rowBytes)); rb = Vector512.Load((float*)(s + 11 * rowBytes));
        rc = Vector512.Load((float*)(s + 12 * rowBytes)); rd = Vector512.Load((float*)(s + 13 * rowBytes));
        re = Vector512.Load((float*)(s + 14 * rowBytes)); rf = Vector512.Load((float*)(s + 15 * rowBytes));
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var ta = Avx512F.UnpackLow(ra, rb); var tb = Avx512F.UnpackHigh(ra, rb);
        var tc = Avx512F.UnpackLow(rc, rd); var td = Avx512F.UnpackHigh(rc, rd);
        var te = Avx512F.UnpackLow(re, rf); var tf = Avx512F.UnpackHigh(re, rf);
        r0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle(); r1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        r2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle(); r3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        r4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle(); r5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        r6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle(); r7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        r8 = Avx512F.UnpackLow(t8.AsDouble(), ta.AsDouble()).AsSingle(); r9 = Avx512F.UnpackHigh(t8.AsDouble(), ta.AsDouble()).AsSingle();
        ra = Avx512F.UnpackLow(t9.AsDouble(), tb.AsDouble()).AsSingle(); rb = Avx512F.UnpackHigh(t9.AsDouble(), tb.AsDouble()).AsSingle();
        rc = Avx512F.UnpackLow(tc.AsDouble(), te.AsDouble()).AsSingle(); rd = Avx512F.UnpackHigh(tc.AsDouble(), te.AsDouble()).AsSingle();
        re = Avx512F.UnpackLow(td.AsDouble(), tf.AsDouble()).AsSingle(); rf = Avx512F.UnpackHigh(td.AsDouble(), tf.AsDouble()).AsSingle();
        t0 = Avx512F.Shuffle4x128(r0, r4, 0x88); t1 = Avx512F.Shuffle4x128(r1, r5, 0x88);
        t2 = Avx512F.Shuffle4x128(r2, r6, 0x88); t3 = Avx512F.Shuffle4x128(r3, r7, 0x88);
        t4 = Avx512F.Shuffle4x128(r0, r4, 0xDD); t5 = Avx512F.Shuffle4x128(r1, r5, 0xDD);
        t6 = Avx512F.Shuffle4x128(r2, r6, 0xDD); t7 = Avx512F.Shuffle4x128(r3, r7, 0xDD);
        t8 = Avx512F.Shuffle4x128(r8, rc, 0x88); t9 = Avx512F.Shuffle4x128(r9, rd, 0x88);
        ta = Avx512F.Shuffle4x128(ra, re, 0x88); tb = Avx512F.Shuffle4x128(rb, rf, 0x88);
        tc = Avx512F.Shuffle4x128(r8, rc, 0xDD); td = Avx512F.Shuffle4x128(r9, rd, 0xDD);
        te = Avx512F.Shuffle4x128(ra, re, 0xDD); tf = Avx512F.Shuffle4x128(rb, rf, 0xDD);
        r0 = Avx512F.Shuffle4x128(t0, t8, 0x88); r1 = Avx512F.Shuffle4x128(t1, t9, 0x88);
        r2 = Avx512F.Shuffle4x128(t2, ta, 0x88); r3 = Avx512F.Shuffle4x128(t3, tb, 0x88);
        r4 = Avx512F.Shuffle4x128(t4, tc, 0x88); r5 = Avx512F.Shuffle4x128(t5, td, 0x88);
        r6 = Avx512F.Shuffle4x128(t6, te, 0x88); r7 = Avx512F.Shuffle4x128(t7, tf, 0x88);
        r8 = Avx512F.Shuffle4x128(t0, t8, 0xDD); r9 = Avx512F.Shuffle4x128(t1, t9, 0xDD);
        ra = Avx512F.Shuffle4x128(t2, ta, 0xDD); rb = Avx512F.Shuffle4x128(t3, tb, 0xDD);
        rc = Avx512F.Shuffle4x128(t4, tc, 0xDD); rd = Avx512F.Shuffle4x128(t5, td, 0xDD);
        re = Avx512F.Shuffle4x128(t6, te, 0xDD); rf = Avx512F.Shuffle4x128(t7, tf, 0xDD);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Load(float* p) => Unsafe.ReadUnaligned<Vector<float>>(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector<float> v, float* p) => Unsafe.WriteUnaligned(p, v);
}
