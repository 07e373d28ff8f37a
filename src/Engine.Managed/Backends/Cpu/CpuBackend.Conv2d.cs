using System.Buffers;
using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Output channels per parallel work item: enough to reuse an input row a few times, small enough to balance.</summary>
    private const int ConvItemChannels = 16;

    /// <summary>
    /// Direct convolution on <see cref="CpuTileKernel"/> tiles (4 output channels x 2 vectors of output columns). The
    /// input of each sample is first copied into a zero-padded buffer split into <c>stride</c> column phases
    /// (phase[ph][ci][row][j] = padded[ci][row][j * stride + ph]), so every tap of every stride reads contiguous
    /// columns with no bounds checks; weights are widened to fp32 once per call into [Cout/4][Cin*kh*kw][4] panels.
    /// </summary>
    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dGeometry geometry, Tensor y)
    {
        const string op = "Conv2d";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "weight", weight);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        CheckWeight(op, "weight", weight);
        if (bias is not null)
        {
            OpCheck.Backend(this, op, "bias", bias);
            CheckWeight(op, "bias", bias);
        }
        var (n, cin, h, w, cout, kh, kw, ho, wo) = OpShapes.Conv2d(op, x, weight, bias, geometry, y);
        if (y.ElementCount == 0) return;

        var shape = new ConvShape(cin, h, w, cout, kh, kw, ho, wo, geometry);
        var biasValues = new float[cout];
        if (bias is not null) WeightRow(bias, 0, cout, biasValues).CopyTo(biasValues);
        var panels = CpuTileKernel.PackWeight(weight, cout, shape.Taps);
        var input = ArrayPool<float>.Shared.Rent(checked((int)(shape.Stride * shape.PhaseLength)));
        try
        {
            fixed (float* panelPtr = panels, inputPtr = input)
            {
                nint pp = (nint)panelPtr, ip = (nint)inputPtr;
                int itemsPerRow = (shape.ChannelBlocks * CpuTileKernel.Rows + ConvItemChannels - 1) / ConvItemChannels;
                for (int s = 0; s < n; s++)
                {
                    nint xs = x.Address + (nint)((long)s * cin * h * w * sizeof(float));
                    nint ys = y.Address + (nint)((long)s * cout * ho * wo * sizeof(float));
                    CpuParallel.For(cin * shape.PaddedRows, (long)shape.Stride * shape.RowLength, (first, last) =>
                        FillConvInput((float*)xs, (float*)ip, first, last, shape));
                    CpuParallel.For(ho * itemsPerRow, (long)ConvItemChannels * shape.Taps * wo, (first, last) =>
                        ConvItems((float*)ip, (float*)pp, biasValues, (float*)ys, first, last, itemsPerRow, shape));
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
            ArrayPool<float>.Shared.Return(panels);
        }
    }

    /// <summary>Sizes of one Conv2d call and of its padded, phase-split input buffer.</summary>
    private sealed record ConvShape(int Cin, int H, int W, int Cout, int Kh, int Kw, int Ho, int Wo, Conv2dGeometry Geometry)
    {
        public int Stride => Geometry.Stride;
        public int Taps => Cin * Kh * Kw;
        public int Tiles => (Wo + CpuTileKernel.Width - 1) / CpuTileKernel.Width;
        public int ChannelBlocks => (Cout + CpuTileKernel.Rows - 1) / CpuTileKernel.Rows;
        public int PaddedRows => H + Geometry.PadTop + Geometry.PadBottom;

        /// <summary>Columns per phase row: every tile's full width plus the taps' reach past it.</summary>
        public int RowLength => Tiles * CpuTileKernel.Width + (Kw - 1) / Stride;

        public long PhaseLength => (long)Cin * PaddedRows * RowLength;

        /// <summary>Where tap column kx starts, relative to the output column: its phase and its whole-column shift.</summary>
        public long TapOffset(int kx) => kx % Stride * PhaseLength + kx / Stride;
    }

    /// <summary>Fills padded rows [first, last) (row index = ci * paddedRows + pr) of every column phase.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillConvInput(float* x, float* phases, int first, int last, ConvShape c)
    {
        var g = c.Geometry;
        int rowLength = c.RowLength, w = c.W;
        for (int row = first; row < last; row++)
        {
            int ci = row / c.PaddedRows, iy = row % c.PaddedRows - g.PadTop;
            var source = iy >= 0 && iy < c.H ? new ReadOnlySpan<float>(x + ((long)ci * c.H + iy) * w, w) : default;
            for (int ph = 0; ph < g.Stride; ph++)
            {
                var dst = new Span<float>(phases + ph * c.PhaseLength + (long)row * rowLength, rowLength);
                if (source.IsEmpty)
                {
                    dst.Clear();
                }
                else if (g.Stride == 1)
                {
                    int left = Math.Min(g.PadLeft, rowLength), count = Math.Min(w, rowLength - left);
                    dst[..left].Clear();
                    source[..count].CopyTo(dst[left..]);
                    dst[(left + count)..].Clear();
                }
                else
                {
                    for (int j = 0; j < rowLength; j++)
                    {
                        int ix = j * g.Stride + ph - g.PadLeft;
                        dst[j] = ix >= 0 && ix < w ? source[ix] : 0f;
                    }
                }
            }
        }
    }

    /// <summary>Work items [first, last): item = output row * itemsPerRow + group of 16 output channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvItems(float* input, float* panels, float[] bias, float* y, int first, int last, int itemsPerRow, ConvShape c)
    {
        int width = CpuTileKernel.Width, rows = CpuTileKernel.Rows, taps = c.Taps, wo = c.Wo;
        float* tile = stackalloc float[rows * width];
        long* offsets = stackalloc long[c.Kw];
        for (int kx = 0; kx < c.Kw; kx++) offsets[kx] = c.TapOffset(kx);
        long channelStride = (long)c.PaddedRows * c.RowLength;
        for (int item = first; item < last; item++)
        {
            int oy = item / itemsPerRow, block0 = item % itemsPerRow * (ConvItemChannels / rows);
            int blockEnd = Math.Min(block0 + ConvItemChannels / rows, c.ChannelBlocks);
            float* rowBase = input + (long)oy * c.Stride * c.RowLength;
            for (int cb = block0; cb < blockEnd; cb++)
            {
                float* panel = panels + (long)cb * taps * rows;
                for (int t = 0; t < c.Tiles; t++)
                {
                    int ox0 = t * width, columns = Math.Min(width, wo - ox0);
                    CpuTileKernel.Multiply(rowBase + ox0, panel, c.Cin, c.Kh, c.Kw, channelStride, c.RowLength, offsets, tile);
                    for (int r = 0; r < rows && cb * rows + r < c.Cout; r++)
                    {
                        int co = cb * rows + r;
                        float* dst = y + ((long)co * c.Ho + oy) * wo + ox0;
                        for (int j = 0; j < columns; j++) dst[j] = tile[r * width + j] + bias[co];
                    }
                }
            }
        }
    }
}
