using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// The register-blocked microkernels of <see cref="CpuGemm"/>: a tile of C of up to <see cref="Rows"/> rows x one
/// panel's width is held in vector accumulators (up to 24 with AVX-512's 32 registers, 12 with AVX2's 16) while the
/// depth runs, each step broadcasting one A value per row against the packed panel's row: one FMA per accumulator, no
/// horizontal sums. Panels are <see cref="Width"/> wide, or <see cref="NarrowWidth"/> for narrow products (a 16-wide
/// attention head) that a wide panel would mostly pad.
/// </summary>
internal static unsafe class CpuGemmKernels
{
    /// <summary>Rows of A (and C) per tile.</summary>
    public const int Rows = 6;

    /// <summary>Whether the AVX-512 kernels run (16 floats per vector); else the portable Vector&lt;float&gt; ones.</summary>
    public static bool Wide => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>Columns of a wide panel: 4 AVX-512 vectors, or 2 Vector&lt;float&gt;.</summary>
    public static int Width { get; } = Wide ? 4 * Vector512<float>.Count : 2 * Vector<float>.Count;

    /// <summary>Columns of a narrow panel: one vector.</summary>
    public static int NarrowWidth { get; } = Wide ? Vector512<float>.Count : Vector<float>.Count;

    /// <summary>
    /// C[r, j] = (add ? C[r, j] : 0) + sum over p &lt; depth of a[r * lda + p] * panel[p * width + j] for r &lt;
    /// <paramref name="rows"/> (1 to <see cref="Rows"/>), j &lt; <paramref name="width"/> (<see cref="Width"/> or
    /// <see cref="NarrowWidth"/>); C rows are <paramref name="ldc"/> floats apart. Each C element is one FMA chain
    /// over p in order, whichever kernel computes it: a row's result does not depend on how many rows are multiplied
    /// with it (an image's tokens do not depend on its batch).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(int rows, int width, int depth, float* a, long lda, float* panel, float* c, long ldc, bool add)
    {
        if (width == Width) Tile<Wide4>(rows, depth, a, lda, panel, c, ldc, add);
        else Tile<One>(rows, depth, a, lda, panel, c, ldc, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TVecs>(int rows, int depth, float* a, long lda, float* panel, float* c, long ldc, bool add) where TVecs : struct, ICount
    {
        switch (rows)
        {
            case 6: Tile<Six, TVecs>(depth, a, lda, panel, c, ldc, add); break;
            case 5: Tile<Four, TVecs>(depth, a, lda, panel, c, ldc, add); Tile<One, TVecs>(depth, a + 4 * lda, lda, panel, c + 4 * ldc, ldc, add); break;
            case 4: Tile<Four, TVecs>(depth, a, lda, panel, c, ldc, add); break;
            case 3: Tile<Two, TVecs>(depth, a, lda, panel, c, ldc, add); Tile<One, TVecs>(depth, a + 2 * lda, lda, panel, c + 2 * ldc, ldc, add); break;
            case 2: Tile<Two, TVecs>(depth, a, lda, panel, c, ldc, add); break;
            case 1: Tile<One, TVecs>(depth, a, lda, panel, c, ldc, add); break;
            default: throw new ArgumentOutOfRangeException(nameof(rows), rows, $"a tile has 1 to {Rows} rows");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile<TRows, TVecs>(int depth, float* a, long lda, float* panel, float* c, long ldc, bool add)
        where TRows : struct, ICount where TVecs : struct, ICount
    {
        if (Wide) Tile512<TRows, TVecs>(depth, a, lda, panel, c, ldc, add);
        else TilePortable<TRows, TVecs>(depth, a, lda, panel, c, ldc, add);
    }

    /// <summary>A count known to the JIT (rows of a tile, vectors of a panel row), so the unused accumulators' code is removed.</summary>
    internal interface ICount
    {
        static abstract int Count { get; }
    }

    internal readonly struct One : ICount { public static int Count => 1; }
    internal readonly struct Two : ICount { public static int Count => 2; }
    internal readonly struct Three : ICount { public static int Count => 3; }
    internal readonly struct Four : ICount { public static int Count => 4; }
    internal readonly struct Six : ICount { public static int Count => 6; }

    /// <summary>Vectors per wide panel row: 4 with AVX-512, 2 otherwise (where Tile512 does not run).</summary>
    private readonly struct Wide4 : ICount { public static int Count => Wide ? 4 : 2; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<TRows, TVecs>(int depth, float* a, long lda, float* b, float* c, long ldc, bool add)
        where TRows : struct, ICount where TVecs : struct, ICount
    {
        int n = TRows.Count, v = TVecs.Count, stride = 16 * v;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        float* r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc, r4 = c + 4 * ldc, r5 = c + 5 * ldc;
        if (add)
        {
            Load<TVecs>(r0, out c00, out c01, out c02, out c03);
            if (n > 1) Load<TVecs>(r1, out c10, out c11, out c12, out c13);
            if (n > 2) Load<TVecs>(r2, out c20, out c21, out c22, out c23);
            if (n > 3) Load<TVecs>(r3, out c30, out c31, out c32, out c33);
            if (n > 4) Load<TVecs>(r4, out c40, out c41, out c42, out c43);
            if (n > 5) Load<TVecs>(r5, out c50, out c51, out c52, out c53);
        }
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
        for (int p = 0; p < depth; p++, b += stride)
        {
            Load<TVecs>(b, out var b0, out var b1, out var b2, out var b3);
            Fma<TVecs>(Vector512.Create(a0[p]), b0, b1, b2, b3, ref c00, ref c01, ref c02, ref c03);
            if (n > 1) Fma<TVecs>(Vector512.Create(a1[p]), b0, b1, b2, b3, ref c10, ref c11, ref c12, ref c13);
            if (n > 2) Fma<TVecs>(Vector512.Create(a2[p]), b0, b1, b2, b3, ref c20, ref c21, ref c22, ref c23);
            if (n > 3) Fma<TVecs>(Vector512.Create(a3[p]), b0, b1, b2, b3, ref c30, ref c31, ref c32, ref c33);
            if (n > 4) Fma<TVecs>(Vector512.Create(a4[p]), b0, b1, b2, b3, ref c40, ref c41, ref c42, ref c43);
            if (n > 5) Fma<TVecs>(Vector512.Create(a5[p]), b0, b1, b2, b3, ref c50, ref c51, ref c52, ref c53);
        }
        Store<TVecs>(r0, c00, c01, c02, c03);
        if (n > 1) Store<TVecs>(r1, c10, c11, c12, c13);
        if (n > 2) Store<TVecs>(r2, c20, c21, c22, c23);
        if (n > 3) Store<TVecs>(r3, c30, c31, c32, c33);
        if (n > 4) Store<TVecs>(r4, c40, c41, c42, c43);
        if (n > 5) Store<TVecs>(r5, c50, c51, c52, c53);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Load<TVecs>(float* p, out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2, out Vector512<float> v3)
        where TVecs : struct, ICount
    {
        v0 = Vector512.Load(p);
        v1 = TVecs.Count > 1 ? Vector512.Load(p + 16) : default;
        v2 = TVecs.Count > 2 ? Vector512.Load(p + 32) : default;
        v3 = TVecs.Count > 3 ? Vector512.Load(p + 48) : default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TVecs>(float* p, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
        where TVecs : struct, ICount
    {
        v0.Store(p);
        if (TVecs.Count > 1) v1.Store(p + 16);
        if (TVecs.Count > 2) v2.Store(p + 32);
        if (TVecs.Count > 3) v3.Store(p + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fma<TVecs>(Vector512<float> x, Vector512<float> b0, Vector512<float> b1, Vector512<float> b2, Vector512<float> b3,
        ref Vector512<float> c0, ref Vector512<float> c1, ref Vector512<float> c2, ref Vector512<float> c3) where TVecs : struct, ICount
    {
        c0 = Vector512.FusedMultiplyAdd(x, b0, c0);
        if (TVecs.Count > 1) c1 = Vector512.FusedMultiplyAdd(x, b1, c1);
        if (TVecs.Count > 2) c2 = Vector512.FusedMultiplyAdd(x, b2, c2);
        if (TVecs.Count > 3) c3 = Vector512.FusedMultiplyAdd(x, b3, c3);
    }

    /// <summary>The same tile with the machine's Vector&lt;float&gt; (AVX2: 8 floats; 12 accumulators fit its 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TilePortable<TRows, TVecs>(int depth, float* a, long lda, float* b, float* c, long ldc, bool add)
        where TRows : struct, ICount where TVecs : struct, ICount
    {
        int n = TRows.Count, two = TVecs.Count, w = Vector<float>.Count, stride = w * two;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* r0 = c, r1 = c + ldc, r2 = c + 2 * ldc, r3 = c + 3 * ldc, r4 = c + 4 * ldc, r5 = c + 5 * ldc;
        if (add)
        {
            c00 = Load(r0); if (two > 1) c01 = Load(r0 + w);
            if (n > 1) { c10 = Load(r1); if (two > 1) c11 = Load(r1 + w); }
            if (n > 2) { c20 = Load(r2); if (two > 1) c21 = Load(r2 + w); }
            if (n > 3) { c30 = Load(r3); if (two > 1) c31 = Load(r3 + w); }
            if (n > 4) { c40 = Load(r4); if (two > 1) c41 = Load(r4 + w); }
            if (n > 5) { c50 = Load(r5); if (two > 1) c51 = Load(r5 + w); }
        }
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda;
        for (int p = 0; p < depth; p++, b += stride)
        {
            var b0 = Load(b);
            var b1 = two > 1 ? Load(b + w) : default;
            var x = new Vector<float>(a0[p]);
            c00 = Vector.FusedMultiplyAdd(x, b0, c00); if (two > 1) c01 = Vector.FusedMultiplyAdd(x, b1, c01);
            if (n > 1) { x = new Vector<float>(a1[p]); c10 = Vector.FusedMultiplyAdd(x, b0, c10); if (two > 1) c11 = Vector.FusedMultiplyAdd(x, b1, c11); }
            if (n > 2) { x = new Vector<float>(a2[p]); c20 = Vector.FusedMultiplyAdd(x, b0, c20); if (two > 1) c21 = Vector.FusedMultiplyAdd(x, b1, c21); }
            if (n > 3) { x = new Vector<float>(a3[p]); c30 = Vector.FusedMultiplyAdd(x, b0, c30); if (two > 1) c31 = Vector.FusedMultiplyAdd(x, b1, c31); }
            if (n > 4) { x = new Vector<float>(a4[p]); c40 = Vector.FusedMultiplyAdd(x, b0, c40); if (two > 1) c41 = Vector.FusedMultiplyAdd(x, b1, c41); }
            if (n > 5) { x = new Vector<float>(a5[p]); c50 = Vector.FusedMultiplyAdd(x, b0, c50); if (two > 1) c51 = Vector.FusedMultiplyAdd(x, b1, c51); }
        }
        Store(c00, r0); if (two > 1) Store(c01, r0 + w);
        if (n > 1) { Store(c10, r1); if (two > 1) Store(c11, r1 + w); }
        if (n > 2) { Store(c20, r2); if (two > 1) Store(c21, r2 + w); }
        if (n > 3) { Store(c30, r3); if (two > 1) Store(c31, r3 + w); }
        if (n > 4) { Store(c40, r4); if (two > 1) Store(c41, r4 + w); }
        if (n > 5) { Store(c50, r5); if (two > 1) Store(c51, r5 + w); }
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
