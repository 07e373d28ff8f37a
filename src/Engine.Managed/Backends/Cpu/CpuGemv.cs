using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cpu.CpuGemmKernels;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// y = x w^T for a few rows of x (decode steps): w is read once, in place, 16 weight rows at a time transposed in
/// registers, with no packed copy (at 1 to 4 rows, writing and re-reading panels would cost as much as the product).
/// Each y element is the same FMA chain over the depth in order as <see cref="CpuGemm"/>'s, so a row's result does
/// not depend on how many rows are multiplied with it. AVX-512 only; elsewhere <see cref="CpuGemm"/> runs every size.
/// </summary>
internal static unsafe class CpuGemv
{
    public const int MaxRows = 4;

    /// <summary>Weight rows per parallel work item.</summary>
    private const int ItemRows = 64;

    public static bool Supported => Wide;

    /// <summary>y[m, n] (+)= x[m, k] w[n, k]^T for m &lt;= <see cref="MaxRows"/>, w BF16 or F32.</summary>
    public static void MatMul(float* x, Tensor w, float* y, int m, int k, int n, bool accumulate)
    {
        nint xp = (nint)x, yp = (nint)y, wp = w.Address;
        bool bf16 = w.DType == DType.BF16;
        CpuParallel.For((n + ItemRows - 1) / ItemRows, (long)m * k * ItemRows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int item = first; item < last; item++)
            {
                int n0 = item * ItemRows, n1 = Math.Min(n, n0 + ItemRows);
                switch (m)
                {
                    case 1: Rows<One>((float*)xp, wp, bf16, (float*)yp, k, n, n0, n1, accumulate); break;
                    case 2: Rows<Two>((float*)xp, wp, bf16, (float*)yp, k, n, n0, n1, accumulate); break;
                    case 3: Rows<Three>((float*)xp, wp, bf16, (float*)yp, k, n, n0, n1, accumulate); break;
                    case 4: Rows<Four>((float*)xp, wp, bf16, (float*)yp, k, n, n0, n1, accumulate); break;
                    default: throw new ArgumentOutOfRangeException(nameof(m), m, $"the vector product takes 1 to {MaxRows} rows");
                }
            }
        });
    }

    /// <summary>Weight rows [n0, n1): groups of 16 through the transposing kernel, the rest one by one.</summary>
    private static void Rows<TRows>(float* x, nint w, bool bf16, float* y, int k, int n, int n0, int n1, bool accumulate)
        where TRows : struct, ICount
    {
        int size = bf16 ? 2 : 4, j = n0;
        for (; j + 16 <= n1; j += 16)
            Group16<TRows>(x, k, (byte*)w + (long)j * k * size, (long)k * size, bf16, y + j, n, accumulate);
        for (; j < n1; j++)
            for (int i = 0; i < TRows.Count; i++)
            {
                float acc = accumulate ? y[(long)i * n + j] : 0f;
                for (int p = 0; p < k; p++) acc = MathF.FusedMultiplyAdd(x[(long)i * k + p], Weight(w, bf16, (long)j * k + p), acc);
                y[(long)i * n + j] = acc;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Weight(nint w, bool bf16, long index) =>
        bf16 ? BFloat16.ToSingle(((ushort*)w)[index]) : ((float*)w)[index];

    /// <summary>y[i, 0..16) (+)= x[i] . w[r] for 16 weight rows starting at <paramref name="rows"/>, rows <paramref name="rowBytes"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Group16<TRows>(float* x, int k, byte* rows, long rowBytes, bool bf16, float* y, int ldy, bool accumulate)
        where TRows : struct, ICount
    {
        int m = TRows.Count;
        float* x0 = x, x1 = x + k, x2 = x + 2 * k, x3 = x + 3 * k;
        Vector512<float> y0 = default, y1 = default, y2 = default, y3 = default;
        if (accumulate)
        {
            y0 = Vector512.Load(y);
            if (m > 1) y1 = Vector512.Load(y + ldy);
            if (m > 2) y2 = Vector512.Load(y + 2 * ldy);
            if (m > 3) y3 = Vector512.Load(y + 3 * ldy);
        }
        var high = Vector512.Create(0xFFFF0000u);
        int step = bf16 ? 32 : 16, p = 0;
        for (; p + step <= k; p += step)
        {
            LoadTransposed16(rows + p * (bf16 ? 2 : 4), rowBytes, out var r0, out var r1, out var r2, out var r3, out var r4, out var r5,
                out var r6, out var r7, out var r8, out var r9, out var ra, out var rb, out var rc, out var rd, out var re, out var rf);
            if (bf16)
            {
                // Lane d of the transposed rows holds the bf16 pair (p + 2d, p + 2d + 1) of each weight row.
                Pair<TRows>(r0, p, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r1, p + 2, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r2, p + 4, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r3, p + 6, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r4, p + 8, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r5, p + 10, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r6, p + 12, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r7, p + 14, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r8, p + 16, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(r9, p + 18, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(ra, p + 20, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(rb, p + 22, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(rc, p + 24, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(rd, p + 26, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(re, p + 28, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Pair<TRows>(rf, p + 30, high, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
            }
            else
            {
                Step<TRows>(r0, p, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r1, p + 1, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r2, p + 2, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r3, p + 3, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r4, p + 4, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r5, p + 5, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r6, p + 6, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r7, p + 7, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r8, p + 8, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(r9, p + 9, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(ra, p + 10, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(rb, p + 11, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(rc, p + 12, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(rd, p + 13, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(re, p + 14, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
                Step<TRows>(rf, p + 15, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
            }
        }
        for (; p < k; p++)
        {
            // The depth's last few steps: the 16 weights of step p gathered one by one.
            var wp = Vector512.Create(
                Weight(rows, p, 0, rowBytes, bf16), Weight(rows, p, 1, rowBytes, bf16), Weight(rows, p, 2, rowBytes, bf16), Weight(rows, p, 3, rowBytes, bf16),
                Weight(rows, p, 4, rowBytes, bf16), Weight(rows, p, 5, rowBytes, bf16), Weight(rows, p, 6, rowBytes, bf16), Weight(rows, p, 7, rowBytes, bf16),
                Weight(rows, p, 8, rowBytes, bf16), Weight(rows, p, 9, rowBytes, bf16), Weight(rows, p, 10, rowBytes, bf16), Weight(rows, p, 11, rowBytes, bf16),
                Weight(rows, p, 12, rowBytes, bf16), Weight(rows, p, 13, rowBytes, bf16), Weight(rows, p, 14, rowBytes, bf16), Weight(rows, p, 15, rowBytes, bf16));
            Step<TRows>(wp, p, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
        }
        y0.Store(y);
        if (m > 1) y1.Store(y + ldy);
        if (m > 2) y2.Store(y + 2 * ldy);
        if (m > 3) y3.Store(y + 3 * ldy);
    }

    private static float Weight(byte* rows, int p, int row, long rowBytes, bool bf16) =>
        bf16 ? BFloat16.ToSingle(((ushort*)(rows + row * rowBytes))[p]) : ((float*)(rows + row * rowBytes))[p];

    /// <summary>Depth steps p and p + 1 from lanes holding bf16 pairs: the low half is step p, the high half step p + 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair<TRows>(Vector512<float> pairs, int p, Vector512<uint> high, float* x0, float* x1, float* x2, float* x3,
        ref Vector512<float> y0, ref Vector512<float> y1, ref Vector512<float> y2, ref Vector512<float> y3) where TRows : struct, ICount
    {
        var u = pairs.AsUInt32();
        Step<TRows>(Vector512.ShiftLeft(u, 16).AsSingle(), p, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
        Step<TRows>((u & high).AsSingle(), p + 1, x0, x1, x2, x3, ref y0, ref y1, ref y2, ref y3);
    }

    /// <summary>y[i] += x[i, p] * w for every row i: the same FMA as the GEMM microkernel's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step<TRows>(Vector512<float> w, int p, float* x0, float* x1, float* x2, float* x3,
        ref Vector512<float> y0, ref Vector512<float> y1, ref Vector512<float> y2, ref Vector512<float> y3) where TRows : struct, ICount
    {
        y0 = Vector512.FusedMultiplyAdd(Vector512.Create(x0[p]), w, y0);
        if (TRows.Count > 1) y1 = Vector512.FusedMultiplyAdd(Vector512.Create(x1[p]), w, y1);
        if (TRows.Count > 2) y2 = Vector512.FusedMultiplyAdd(Vector512.Create(x2[p]), w, y2);
        if (TRows.Count > 3) y3 = Vector512.FusedMultiplyAdd(Vector512.Create(x3[p]), w, y3);
    }
}
