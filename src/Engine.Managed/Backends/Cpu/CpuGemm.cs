using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// C (+)= A B for the dense ops, blocked as BLIS does: for each block of <see cref="ColumnBlock"/> columns and
/// <see cref="DepthBlock"/> depth, B is packed once into fp32 panels of <see cref="CpuGemmKernels.Width"/> columns
/// (bf16 weights widened exactly on the way), then the register-tiled microkernel runs every row tile of A (read in
/// place) over every panel. Work items are (row block, column block) pairs, each writing its own part of C; every C
/// element sums its depth in one fixed order, so results do not depend on the thread count.
/// </summary>
internal static unsafe class CpuGemm
{
    /// <summary>Depth per packed block: a 6-row A strip (6 KiB) stays in L1, a 64-column panel (64 KiB) in L2.</summary>
    private const int DepthBlock = 256;

    /// <summary>Columns per packed block: 256 x 512 floats (512 KiB) stay in a core's L2 while every row tile passes.</summary>
    private const int ColumnBlock = 512;

    [ThreadStatic] private static float[]? t_panels;
    [ThreadStatic] private static float[]? t_tile;

    /// <summary>y[m, n] (+)= x[m, k] w[n, k]^T, w BF16 or F32, on all cores.</summary>
    public static void MatMul(float* x, Tensor w, float* y, int m, int k, int n, bool accumulate) =>
        Run(m, k, n, x, k, new WeightRows(w.Address, w.DType == DType.BF16, k), y, n, accumulate);

    /// <summary>dx[m, k] (+)= dy[m, n] w[n, k], w BF16 or F32, on all cores: the input gradient of <see cref="MatMul"/>.</summary>
    public static void InputGrad(float* dy, Tensor w, float* dx, int m, int n, int k, bool accumulate) =>
        Run(m, n, k, dy, n, new WeightColumns(w.Address, w.DType == DType.BF16, k), dx, k, accumulate);

    /// <summary>
    /// dw[n, k] (+)= dy[m, n]^T x[m, k], on all cores: the weight gradient of <see cref="MatMul"/>. The product's A
    /// must run along the contraction (the m tokens), so dy is first transposed into a pooled [n, m] buffer, an
    /// O(m n) pass beside the O(m n k) product; x is B as it stands (the input gradient's panel packing).
    /// </summary>
    public static void WeightGradient(float* dy, float* x, float* dw, int m, int n, int k, bool accumulate)
    {
        var pooled = ArrayPool<float>.Shared.Rent(Math.Max(1, m * n));
        try
        {
            fixed (float* dyT = pooled)
            {
                Transpose(dy, dyT, m, n);
                Run(n, m, k, dyT, m, new WeightColumns((nint)x, false, k), dw, k, accumulate);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pooled);
        }
    }

    /// <summary>dst[j, i] = src[i, j] for src [rows, cols], in 16 x 16 blocks so both sides stream through the cache.</summary>
    private static void Transpose(float* src, float* dst, int rows, int cols)
    {
        const int block = 16;
        nint s = (nint)src, d = (nint)dst;
        int colBlocks = (cols + block - 1) / block;
        CpuParallel.For(colBlocks, (long)block * rows, (first, last) =>
        {
            for (int jb = first; jb < last; jb++)
            {
                int j0 = jb * block, j1 = Math.Min(cols, j0 + block);
                for (int i0 = 0; i0 < rows; i0 += block)
                {
                    int i1 = Math.Min(rows, i0 + block);
                    for (int j = j0; j < j1; j++)
                        for (int i = i0; i < i1; i++)
                            ((float*)d)[(long)j * rows + i] = ((float*)s)[(long)i * cols + j];
                }
            }
        });
    }

    /// <summary>
    /// On the calling thread (inside another op's parallel item): C[m, cols] (+)= A[m, depth] B^T where row j of B is
    /// <paramref name="b"/> + j * ldb (fp32, depth long): attention's Q K^T and dO V^T.
    /// </summary>
    public static void MultiplyTransposed(float* a, long lda, float* b, long ldb, float* c, long ldc, int m, int depth, int cols, bool accumulate) =>
        Serial(m, depth, cols, a, lda, new WeightRows((nint)b, false, ldb), c, ldc, accumulate);

    /// <summary>
    /// On the calling thread: C[m, cols] (+)= A[m, depth] B where row p of B is <paramref name="b"/> + p * ldb (fp32,
    /// cols long): attention's P V and dS K.
    /// </summary>
    public static void Multiply(float* a, long lda, float* b, long ldb, float* c, long ldc, int m, int depth, int cols, bool accumulate) =>
        Serial(m, depth, cols, a, lda, new WeightColumns((nint)b, false, ldb), c, ldc, accumulate);

    private static void Serial<TB>(int m, int depth, int cols, float* a, long lda, TB b, float* c, long ldc, bool accumulate)
        where TB : struct, IPanelSource
    {
        if (Empty(m, depth, cols, c, ldc, accumulate)) return;
        // Products narrower than a wide panel (a 16-wide attention head) use one-vector panels instead of padding.
        int width = cols < CpuGemmKernels.Width ? CpuGemmKernels.NarrowWidth : CpuGemmKernels.Width;
        float* panels = CpuScratch.Aligned(ref t_panels, DepthBlock * (ColumnBlock + CpuGemmKernels.Width));
        float* tile = CpuScratch.Aligned(ref t_tile, CpuGemmKernels.Rows * CpuGemmKernels.Width);
        for (int j0 = 0; j0 < cols; j0 += ColumnBlock)
            Block(a, lda, b, c, ldc, 0, m, j0, Math.Min(ColumnBlock, cols - j0), depth, accumulate, panels, tile, width);
    }

    /// <summary>C[m, cols] (+)= A[m, depth] B[depth, cols]; A rows lda apart, C rows ldc apart, B packed by <typeparamref name="TB"/>.</summary>
    private static void Run<TB>(int m, int depth, int cols, float* a, long lda, TB b, float* c, long ldc, bool accumulate)
        where TB : struct, IPanelSource
    {
        if (Empty(m, depth, cols, c, ldc, accumulate)) return;
        int colBlocks = (cols + ColumnBlock - 1) / ColumnBlock;
        int rowTiles = (m + CpuGemmKernels.Rows - 1) / CpuGemmKernels.Rows;
        // Rows are split only when the column blocks alone do not give every core work: each row block packs all of B
        // again (the output head's input gradient, 64 columns wide, is one column block over 65536 depth).
        int rowBlocks = Math.Clamp((Environment.ProcessorCount + colBlocks - 1) / colBlocks, 1, rowTiles);
        int tilesPerBlock = (rowTiles + rowBlocks - 1) / rowBlocks;
        rowBlocks = (rowTiles + tilesPerBlock - 1) / tilesPerBlock;
        nint ap = (nint)a, cp = (nint)c;
        long work = (long)tilesPerBlock * CpuGemmKernels.Rows * Math.Min(cols, ColumnBlock) * depth;
        CpuParallel.For(rowBlocks * colBlocks, work, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            int width = CpuGemmKernels.Width;
            float* panels = CpuScratch.Aligned(ref t_panels, DepthBlock * (ColumnBlock + width));
            float* tile = CpuScratch.Aligned(ref t_tile, CpuGemmKernels.Rows * width);
            for (int item = first; item < last; item++)
            {
                int i0 = item / colBlocks * tilesPerBlock * CpuGemmKernels.Rows, i1 = Math.Min(m, i0 + tilesPerBlock * CpuGemmKernels.Rows);
                int j0 = item % colBlocks * ColumnBlock, nc = Math.Min(ColumnBlock, cols - j0);
                Block((float*)ap, lda, b, (float*)cp, ldc, i0, i1, j0, nc, depth, accumulate, panels, tile, width);
            }
        });
    }

    /// <summary>Handles a product with nothing to multiply (C = 0, or unchanged when accumulating); false otherwise.</summary>
    private static bool Empty(int m, int depth, int cols, float* c, long ldc, bool accumulate)
    {
        if (m > 0 && cols > 0 && depth > 0) return false;
        if (depth == 0 && !accumulate)
            for (int i = 0; i < m; i++) new Span<float>(c + i * ldc, cols).Clear();
        return true;
    }

    /// <summary>Rows [i0, i1) x columns [j0, j0 + nc) of C, over the whole depth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TB>(float* a, long lda, TB b, float* c, long ldc, int i0, int i1, int j0, int nc, int depth,
        bool accumulate, float* panels, float* tile, int width) where TB : struct, IPanelSource
    {
        const int rows = CpuGemmKernels.Rows;
        int panelCount = (nc + width - 1) / width;
        for (int p0 = 0; p0 < depth; p0 += DepthBlock)
        {
            int kc = Math.Min(DepthBlock, depth - p0);
            bool add = accumulate || p0 > 0;
            b.Pack(p0, kc, j0, nc, width, panels);
            for (int q = 0; q < panelCount; q++)
            {
                float* panel = panels + (long)q * kc * width;
                int j = j0 + q * width, columns = Math.Min(width, j0 + nc - j);
                for (int i = i0; i < i1; i += rows)
                {
                    int tileRows = Math.Min(rows, i1 - i);
                    float* aTile = a + i * lda + p0, cTile = c + i * ldc + j;
                    if (columns == width)
                    {
                        CpuGemmKernels.Tile(tileRows, width, kc, aTile, lda, panel, cTile, ldc, add);
                        continue;
                    }
                    // The matrix's last, narrower panel goes through a full-width scratch tile, so no write leaves C.
                    for (int r = 0; r < tileRows; r++)
                    {
                        var dst = new Span<float>(tile + r * width, width);
                        dst.Clear();
                        if (add) new ReadOnlySpan<float>(cTile + r * ldc, columns).CopyTo(dst);
                    }
                    CpuGemmKernels.Tile(tileRows, width, kc, aTile, lda, panel, tile, width, add);
                    for (int r = 0; r < tileRows; r++)
                        new ReadOnlySpan<float>(tile + r * width, columns).CopyTo(new Span<float>(cTile + r * ldc, columns));
                }
            }
        }
    }

    /// <summary>Writes B[p0 .. p0 + depth, j0 .. j0 + cols) as fp32 panels [cols / width][depth][width], zero past the last column.</summary>
    private interface IPanelSource
    {
        void Pack(int p0, int depth, int j0, int cols, int width, float* panels);
    }

    /// <summary>
    /// B[p, j] = w[j * stride + p] (row j of a weight w [n, k] is column j of B): the forward product. With AVX-512 the
    /// transpose runs 16 weight rows at a time through registers (<see cref="CpuGemmKernels.LoadTransposed16"/>); a bf16 pair (p, p + 1)
    /// moves as one 32-bit lane and is split into two fp32 values afterwards.
    /// </summary>
    private readonly struct WeightRows(nint w, bool bf16, long stride) : IPanelSource
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Pack(int p0, int depth, int j0, int cols, int width, float* panels)
        {
            for (int jj = 0; jj < cols; jj += width)
            {
                float* panel = panels + (long)jj * depth;
                int count = Math.Min(width, cols - jj), col = 0;
                if (Avx512F.IsSupported && width % 16 == 0)
                    for (; col + 16 <= count; col += 16)
                        Pack16(panel + col, (j0 + jj + col) * stride + p0, depth, width);
                for (; col < count; col++)
                    PackScalar(panel + col, (j0 + jj + col) * stride + p0, 0, depth, width);
                for (; col < width; col++)
                    for (int p = 0; p < depth; p++) panel[p * width + col] = 0f;
            }
        }

        /// <summary>Column j of the panel (at <paramref name="dst"/>) for depth [from, depth) from the weight row at element <paramref name="row"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PackScalar(float* dst, long row, int from, int depth, int width)
        {
            if (bf16)
                for (int p = from; p < depth; p++) ((uint*)dst)[p * width] = (uint)((ushort*)w)[row + p] << 16;
            else
                for (int p = from; p < depth; p++) dst[p * width] = ((float*)w)[row + p];
        }

        /// <summary>Columns [0, 16) of a panel from 16 consecutive weight rows starting at element <paramref name="start"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Pack16(float* dst, long start, int depth, int width)
        {
            int step = bf16 ? 32 : 16, p = 0;
            byte* src = (byte*)w + start * (bf16 ? 2 : 4);
            long rowBytes = stride * (bf16 ? 2 : 4);
            var high = Vector512.Create(0xFFFF0000u);
            for (; p + step <= depth; p += step)
            {
                CpuGemmKernels.LoadTransposed16(src + p * (bf16 ? 2 : 4), rowBytes, out var r0, out var r1, out var r2, out var r3, out var r4,
                    out var r5, out var r6, out var r7, out var r8, out var r9, out var ra, out var rb, out var rc, out var rd, out var re, out var rf);
                float* d = dst + p * width;
                if (bf16)
                {
                    Split(r0, d, width, high); Split(r1, d + 2 * width, width, high); Split(r2, d + 4 * width, width, high); Split(r3, d + 6 * width, width, high);
                    Split(r4, d + 8 * width, width, high); Split(r5, d + 10 * width, width, high); Split(r6, d + 12 * width, width, high); Split(r7, d + 14 * width, width, high);
                    Split(r8, d + 16 * width, width, high); Split(r9, d + 18 * width, width, high); Split(ra, d + 20 * width, width, high); Split(rb, d + 22 * width, width, high);
                    Split(rc, d + 24 * width, width, high); Split(rd, d + 26 * width, width, high); Split(re, d + 28 * width, width, high); Split(rf, d + 30 * width, width, high);
                }
                else
                {
                    r0.Store(d); r1.Store(d + width); r2.Store(d + 2 * width); r3.Store(d + 3 * width);
                    r4.Store(d + 4 * width); r5.Store(d + 5 * width); r6.Store(d + 6 * width); r7.Store(d + 7 * width);
                    r8.Store(d + 8 * width); r9.Store(d + 9 * width); ra.Store(d + 10 * width); rb.Store(d + 11 * width);
                    rc.Store(d + 12 * width); rd.Store(d + 13 * width); re.Store(d + 14 * width); rf.Store(d + 15 * width);
                }
            }
            if (p < depth)
                for (int r = 0; r < 16; r++) PackScalar(dst + r, start + r * stride, p, depth, width);
        }

        /// <summary>Lanes holding bf16 pairs (p, p + 1) as two fp32 rows of the panel: p at <paramref name="d"/>, p + 1 one row later.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Split(Vector512<float> pairs, float* d, int width, Vector512<uint> high)
        {
            var u = pairs.AsUInt32();
            Vector512.ShiftLeft(u, 16).AsSingle().Store(d);
            (u & high).AsSingle().Store(d + width);
        }
    }

    /// <summary>B[p, j] = w[p * stride + j] (a weight w [n, k] is B itself): the input-gradient product.</summary>
    private readonly struct WeightColumns(nint w, bool bf16, long stride) : IPanelSource
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Pack(int p0, int depth, int j0, int cols, int width, float* panels)
        {
            for (int jj = 0; jj < cols; jj += width)
            {
                float* panel = panels + (long)jj * depth;
                int count = Math.Min(width, cols - jj);
                for (int p = 0; p < depth; p++)
                {
                    long offset = (p0 + p) * stride + j0 + jj;
                    float* dst = panel + p * width;
                    int col = 0;
                    if (bf16)
                    {
                        ushort* src = (ushort*)w + offset;
                        for (; col + 32 <= count; col += 32)
                        {
                            var (lo, hi) = Vector512.Widen(Vector512.Load(src + col));
                            Vector512.ShiftLeft(lo, 16).AsSingle().Store(dst + col);
                            Vector512.ShiftLeft(hi, 16).AsSingle().Store(dst + col + 16);
                        }
                        for (; col < count; col++) ((uint*)dst)[col] = (uint)src[col] << 16;
                    }
                    else
                    {
                        new ReadOnlySpan<float>((float*)w + offset, count).CopyTo(new Span<float>(dst, count));
                        col = count;
                    }
                    for (; col < width; col++) dst[col] = 0f;
                }
            }
        }
    }
}
