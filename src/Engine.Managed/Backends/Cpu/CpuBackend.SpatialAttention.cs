using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>The VQGAN's single-head attention over all spatial positions of a sample.</summary>
public sealed unsafe partial class CpuBackend
{
    [ThreadStatic] private static float[]? t_spatialScores;

    /// <summary>
    /// Two tiled products per block of 16 queries (<see cref="CpuTileKernel"/>): scores [16, P] = q-panels x keys
    /// (keys read as [C][P] rows, zero-padded to whole tiles), then, after an fp32 softmax with max subtraction,
    /// y [C, 16] = v-panels x probabilities (stored [P][16]). Per sample, q is packed as [P/4][C][4] and v as [C/4][P][4].
    /// </summary>
    public void SpatialAttention(Tensor q, Tensor k, Tensor v, Tensor y)
    {
        const string op = "SpatialAttention";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "q", q);
        OpCheck.Backend(this, op, "k", k);
        OpCheck.Backend(this, op, "v", v);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "q", q, DType.F32);
        OpCheck.DType(op, "k", k, DType.F32);
        OpCheck.DType(op, "v", v, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        var (n, c, p) = OpShapes.SpatialAttention(op, q, k, v, y);
        if (p == 0 || c == 0) return;

        var s = new AttentionShape(c, p, (float)(1.0 / Math.Sqrt(c)));
        var queryPanels = ArrayPool<float>.Shared.Rent(checked((int)CpuTileKernel.PanelLength(p, c)));
        var valuePanels = ArrayPool<float>.Shared.Rent(checked((int)CpuTileKernel.PanelLength(c, p)));
        var keys = ArrayPool<float>.Shared.Rent(checked(c * s.PaddedPositions));
        try
        {
            fixed (float* qp = queryPanels, vp = valuePanels, kp = keys)
            {
                nint qa = (nint)qp, va = (nint)vp, ka = (nint)kp, ya = y.Address;
                for (int sample = 0; sample < n; sample++)
                {
                    long plane = (long)sample * c * p;
                    CpuTileKernel.Pack((float*)q.Address + plane, p, c, 1, p, qp);
                    CpuTileKernel.Pack((float*)v.Address + plane, c, p, p, 1, vp);
                    for (int ch = 0; ch < c; ch++)
                    {
                        var row = new Span<float>(kp + (long)ch * s.PaddedPositions, s.PaddedPositions);
                        new ReadOnlySpan<float>((float*)k.Address + plane + (long)ch * p, p).CopyTo(row);
                        row[p..].Clear();
                    }
                    int blocks = s.PaddedPositions / CpuTileKernel.Width;
                    CpuParallel.For(blocks, 4L * CpuTileKernel.Width * p * c, (first, last) =>
                        AttentionBlocks((float*)qa, (float*)ka, (float*)va, (float*)ya + plane, first, last, s));
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(keys);
            ArrayPool<float>.Shared.Return(valuePanels);
            ArrayPool<float>.Shared.Return(queryPanels);
        }
    }

    private readonly record struct AttentionShape(int C, int P, float Scale)
    {
        public int PaddedPositions => (P + CpuTileKernel.Width - 1) / CpuTileKernel.Width * CpuTileKernel.Width;
    }

    /// <summary>Query blocks [first, last) of one sample, each 16 positions; y is that sample's [C, P] plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttentionBlocks(float* queryPanels, float* keys, float* valuePanels, float* y, int first, int last, AttentionShape s)
    {
        int width = CpuTileKernel.Width, rows = CpuTileKernel.Rows, c = s.C, p = s.P, padded = s.PaddedPositions;
        int need = 2 * width * padded;
        var scratch = t_spatialScores is { } a && a.Length >= need ? a : t_spatialScores = new float[need];
        float* tile = stackalloc float[rows * width];
        float* inverseSums = stackalloc float[width];
        fixed (float* scores = scratch)
        {
            // scores [16 queries][padded keys]; probabilities [P keys][16 queries].
            float* probabilities = scores + width * padded;
            for (int block = first; block < last; block++)
            {
                int i0 = block * width, count = Math.Min(width, p - i0);
                for (int r0 = 0; r0 < count; r0 += rows)
                {
                    float* panel = queryPanels + (long)(i0 + r0) * c;
                    for (int t = 0; t < padded; t += width)
                    {
                        CpuTileKernel.Multiply(keys + t, panel, c, padded, tile);
                        for (int r = 0; r < rows; r++)
                            new ReadOnlySpan<float>(tile + r * width, width).CopyTo(new Span<float>(scores + (r0 + r) * padded + t, width));
                    }
                }
                for (int j = 0; j < width; j++)
                {
                    float* row = scores + j * padded;
                    if (j < count) inverseSums[j] = SoftmaxNumerators(row, p, s.Scale);
                    for (int key = 0; key < p; key++) probabilities[key * width + j] = j < count ? row[key] : 0f;
                }
                for (int ch0 = 0; ch0 < c; ch0 += rows)
                {
                    CpuTileKernel.Multiply(probabilities, valuePanels + (long)ch0 * p, p, width, tile);
                    for (int r = 0; r < rows && ch0 + r < c; r++)
                        for (int j = 0; j < count; j++)
                            y[(long)(ch0 + r) * p + i0 + j] = tile[r * width + j] * inverseSums[j];
                }
            }
        }
    }

    /// <summary>row = exp(row * scale - max) in place; returns 1 / their sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float SoftmaxNumerators(float* row, int length, float scale)
    {
        int vw = Vector<float>.Count, i = 0;
        var vScale = new Vector<float>(scale);
        var vMax = new Vector<float>(float.NegativeInfinity);
        for (; i + vw <= length; i += vw)
        {
            var v = Unsafe.ReadUnaligned<Vector<float>>(row + i) * vScale;
            Unsafe.WriteUnaligned(row + i, v);
            vMax = Vector.Max(vMax, v);
        }
        float max = float.NegativeInfinity;
        for (int l = 0; l < vw; l++) max = MathF.Max(max, vMax[l]);
        for (; i < length; i++)
        {
            row[i] *= scale;
            max = MathF.Max(max, row[i]);
        }
        var vMaxAll = new Vector<float>(max);
        var vSum = Vector<float>.Zero;
        float sum = 0;
        for (i = 0; i + vw <= length; i += vw)
        {
            var e = Vector.Exp(Unsafe.ReadUnaligned<Vector<float>>(row + i) - vMaxAll);
            Unsafe.WriteUnaligned(row + i, e);
            vSum += e;
        }
        for (; i < length; i++)
        {
            row[i] = MathF.Exp(row[i] - max);
            sum += row[i];
        }
        return 1f / (sum + Vector.Sum(vSum));
    }
}
