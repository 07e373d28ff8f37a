using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// The register-tiled product behind Conv2d, SpatialAttention and CodebookArgmin: a tile of 4 rows x 4 AVX-512
/// vectors of columns (16 accumulators; 2 Vector&lt;float&gt; and 8 accumulators without AVX-512), each broadcast panel
/// value feeding one FMA per vector. The "A" side is packed into panels [ceil(rows / 4)][depth][4]; the "B" side is
/// read in place as contiguous runs of <see cref="Width"/> floats. Its methods are compiled fully optimized from the
/// first call (a cold tier-0 loop here costs seconds per image).
/// </summary>
internal static unsafe class CpuTileKernel
{
    public const int Rows = 4;

    /// <summary>Columns per tile: four AVX-512 vectors, or two Vector&lt;float&gt;.</summary>
    public static int Width { get; } = CpuGemmKernels.Wide ? 4 * Vector512<float>.Count : 2 * Vector<float>.Count;

    /// <summary>
    /// tile[r, j] = sum over (ci, ky, kx) of panel[((ci * kh + ky) * kw + kx) * 4 + r]
    /// * b[ci * channelStride + ky * rowStride + offsets[kx] + j], for r &lt; 4, j &lt; Width: a convolution's taps as
    /// the depth. A plain product over depth d is cin = d, kh = kw = 1, offsets = { 0 }.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(float* b, float* panel, int cin, int kh, int kw, long channelStride, long rowStride,
        long* offsets, float* tile)
    {
        if (CpuGemmKernels.Wide) Multiply512(b, panel, cin, kh, kw, channelStride, rowStride, offsets, tile);
        else MultiplyPortable(b, panel, cin, kh, kw, channelStride, rowStride, offsets, tile);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Multiply512(float* b, float* panel, int cin, int kh, int kw, long channelStride, long rowStride,
        long* offsets, float* tile)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, d0 = default, d1 = default, d2 = default, d3 = default;
        for (int ci = 0; ci < cin; ci++)
        {
            float* channel = b + ci * channelStride;
            for (int ky = 0; ky < kh; ky++)
            {
                float* row = channel + ky * rowStride;
                for (int kx = 0; kx < kw; kx++, panel += Rows)
                {
                    float* p = row + offsets[kx];
                    var x0 = Vector512.Load(p);
                    var x1 = Vector512.Load(p + 16);
                    var x2 = Vector512.Load(p + 32);
                    var x3 = Vector512.Load(p + 48);
                    var w = Vector512.Create(panel[0]);
                    a0 = Vector512.FusedMultiplyAdd(x0, w, a0); a1 = Vector512.FusedMultiplyAdd(x1, w, a1);
                    a2 = Vector512.FusedMultiplyAdd(x2, w, a2); a3 = Vector512.FusedMultiplyAdd(x3, w, a3);
                    w = Vector512.Create(panel[1]);
                    b0 = Vector512.FusedMultiplyAdd(x0, w, b0); b1 = Vector512.FusedMultiplyAdd(x1, w, b1);
                    b2 = Vector512.FusedMultiplyAdd(x2, w, b2); b3 = Vector512.FusedMultiplyAdd(x3, w, b3);
                    w = Vector512.Create(panel[2]);
                    c0 = Vector512.FusedMultiplyAdd(x0, w, c0); c1 = Vector512.FusedMultiplyAdd(x1, w, c1);
                    c2 = Vector512.FusedMultiplyAdd(x2, w, c2); c3 = Vector512.FusedMultiplyAdd(x3, w, c3);
                    w = Vector512.Create(panel[3]);
                    d0 = Vector512.FusedMultiplyAdd(x0, w, d0); d1 = Vector512.FusedMultiplyAdd(x1, w, d1);
                    d2 = Vector512.FusedMultiplyAdd(x2, w, d2); d3 = Vector512.FusedMultiplyAdd(x3, w, d3);
                }
            }
        }
        a0.Store(tile); a1.Store(tile + 16); a2.Store(tile + 32); a3.Store(tile + 48);
        b0.Store(tile + 64); b1.Store(tile + 80); b2.Store(tile + 96); b3.Store(tile + 112);
        c0.Store(tile + 128); c1.Store(tile + 144); c2.Store(tile + 160); c3.Store(tile + 176);
        d0.Store(tile + 192); d1.Store(tile + 208); d2.Store(tile + 224); d3.Store(tile + 240);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiplyPortable(float* b, float* panel, int cin, int kh, int kw, long channelStride, long rowStride,
        long* offsets, float* tile)
    {
        int vw = Vector<float>.Count;
        Vector<float> a0 = default, a1 = default, b0 = default, b1 = default;
        Vector<float> c0 = default, c1 = default, d0 = default, d1 = default;
        for (int ci = 0; ci < cin; ci++)
        {
            float* channel = b + ci * channelStride;
            for (int ky = 0; ky < kh; ky++)
            {
                float* row = channel + ky * rowStride;
                for (int kx = 0; kx < kw; kx++, panel += Rows)
                {
                    float* p = row + offsets[kx];
                    var x0 = Unsafe.ReadUnaligned<Vector<float>>(p);
                    var x1 = Unsafe.ReadUnaligned<Vector<float>>(p + vw);
                    var w0 = new Vector<float>(panel[0]);
                    a0 = Vector.FusedMultiplyAdd(x0, w0, a0);
                    a1 = Vector.FusedMultiplyAdd(x1, w0, a1);
                    var w1 = new Vector<float>(panel[1]);
                    b0 = Vector.FusedMultiplyAdd(x0, w1, b0);
                    b1 = Vector.FusedMultiplyAdd(x1, w1, b1);
                    var w2 = new Vector<float>(panel[2]);
                    c0 = Vector.FusedMultiplyAdd(x0, w2, c0);
                    c1 = Vector.FusedMultiplyAdd(x1, w2, c1);
                    var w3 = new Vector<float>(panel[3]);
                    d0 = Vector.FusedMultiplyAdd(x0, w3, d0);
                    d1 = Vector.FusedMultiplyAdd(x1, w3, d1);
                }
            }
        }
        Unsafe.WriteUnaligned(tile, a0);
        Unsafe.WriteUnaligned(tile + vw, a1);
        Unsafe.WriteUnaligned(tile + 2 * vw, b0);
        Unsafe.WriteUnaligned(tile + 3 * vw, b1);
        Unsafe.WriteUnaligned(tile + 4 * vw, c0);
        Unsafe.WriteUnaligned(tile + 5 * vw, c1);
        Unsafe.WriteUnaligned(tile + 6 * vw, d0);
        Unsafe.WriteUnaligned(tile + 7 * vw, d1);
    }

    /// <summary>tile = sum over k &lt; depth of panel[k * 4 + r] * b[k * stride + j].</summary>
    public static void Multiply(float* b, float* panel, int depth, long stride, float* tile)
    {
        long zero = 0;
        Multiply(b, panel, depth, 1, 1, stride, 0, &zero, tile);
    }

    /// <summary>Floats in the panels of a [rows, depth] matrix.</summary>
    public static long PanelLength(int rows, int depth) => (long)(rows + Rows - 1) / Rows * Rows * depth;

    /// <summary>
    /// panels[(row / 4) * depth * 4 + k * 4 + row % 4] = a[row * rowStride + k * depthStride] for a strided fp32 matrix;
    /// rows past the end of the last panel are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pack(float* a, int rows, int depth, long rowStride, long depthStride, float* panels)
    {
        new Span<float>(panels, checked((int)PanelLength(rows, depth))).Clear();
        for (int row = 0; row < rows; row++)
        {
            float* dst = panels + (long)(row / Rows) * depth * Rows + row % Rows;
            float* src = a + row * rowStride;
            for (int k = 0; k < depth; k++) dst[k * Rows] = src[k * depthStride];
        }
    }

    /// <summary>A BF16 or F32 weight [rows, depth] as fp32 panels in an array rented from ArrayPool&lt;float&gt;.Shared (the caller returns it).</summary>
    public static float[] PackWeight(Tensor weight, int rows, int depth)
    {
        var panels = ArrayPool<float>.Shared.Rent(checked((int)Math.Max(PanelLength(rows, depth), 1)));
        float[]? widened = weight.DType == DType.BF16 ? ArrayPool<float>.Shared.Rent(checked(Math.Max(rows * depth, 1))) : null;
        try
        {
            if (widened is not null) BFloat16.ToSingle(new ReadOnlySpan<ushort>((ushort*)weight.Address, rows * depth), widened);
            fixed (float* wp = widened, pp = panels)
                Pack(widened is null ? (float*)weight.Address : wp, rows, depth, depth, 1, pp);
        }
        finally
        {
            if (widened is not null) ArrayPool<float>.Shared.Return(widened);
        }
        return panels;
    }
}
