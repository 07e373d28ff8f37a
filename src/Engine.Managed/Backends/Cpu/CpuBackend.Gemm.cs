using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Weight rows widened to fp32 together; 32 rows x K floats stays within L2 for K up to 11008.</summary>
    private const int WeightBlockRows = 32;

    [ThreadStatic] private static float[]? t_weightBlock;

    public void MatMul(Tensor x, Tensor w, Tensor y, bool accumulate = false)
    {
        const string op = "MatMul";
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "w", w);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        CheckWeight(op, "w", w);
        var (m, k, n) = OpShapes.MatMul(op, x, w, y);

        nint xa = x.Address, ya = y.Address;
        int blocks = (n + WeightBlockRows - 1) / WeightBlockRows;
        CpuParallel.For(blocks, (long)m * k * WeightBlockRows, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            var block = t_weightBlock is { } b && b.Length >= WeightBlockRows * k ? b : t_weightBlock = new float[WeightBlockRows * k];
            for (int blk = first; blk < last; blk++)
            {
                int n0 = blk * WeightBlockRows, rows = Math.Min(WeightBlockRows, n - n0);
                var wf = WidenRows(w, n0, rows, k, block);
                for (int i = 0; i < m; i++)
                {
                    var xr = new ReadOnlySpan<float>((float*)xa + (long)i * k, k);
                    float* yr = (float*)ya + (long)i * n + n0;
                    for (int r = 0; r < rows; r++)
                    {
                        float dot = CpuVector.Dot(xr, wf.Slice(r * k, k));
                        yr[r] = accumulate ? yr[r] + dot : dot;
                    }
                }
            }
        });
    }

    /// <summary>Rows [n0, n0 + rows) of a BF16 or F32 weight as one contiguous fp32 span.</summary>
    private static ReadOnlySpan<float> WidenRows(Tensor w, int n0, int rows, int k, float[] scratch)
    {
        long offset = (long)n0 * k;
        if (w.DType == DType.F32)
            return new ReadOnlySpan<float>((float*)w.Address + offset, rows * k);
        BFloat16.ToSingle(new ReadOnlySpan<ushort>((ushort*)w.Address + offset, rows * k), scratch);
        return scratch.AsSpan(0, rows * k);
    }

    public void Embedding(Tensor table, Tensor ids, Tensor output)
    {
        const string op = "Embedding";
        OpCheck.Backend(this, op, "table", table);
        OpCheck.Backend(this, op, "ids", ids);
        OpCheck.Backend(this, op, "output", output);
        CheckWeight(op, "table", table);
        OpCheck.DType(op, "ids", ids, DType.I32);
        OpCheck.DType(op, "output", output, DType.F32);
        var (vocab, d, t) = OpShapes.Embedding(op, table, ids, output);
        var idv = I32(ids);
        var outv = F32(output);
        for (int i = 0; i < t; i++)
        {
            int id = idv[i];
            if ((uint)id >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(ids), $"{op}: token id {id} at index {i} is outside the vocabulary [0, {vocab})");
            WeightRow(table, id, d, outv.Slice(i * d, d)).CopyTo(outv.Slice(i * d, d));
        }
    }

    public void GatherRows(Tensor x, Tensor indices, Tensor output)
    {
        const string op = "GatherRows";
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "indices", indices);
        OpCheck.Backend(this, op, "output", output);
        OpCheck.DType(op, "indices", indices, DType.I32);
        OpCheck.DType(op, "output", output, x.DType);
        var (rows, d, n) = OpShapes.GatherRows(op, x, indices, output);
        var idx = I32(indices);
        int rowBytes = d * x.DType.SizeOf();
        for (int i = 0; i < n; i++)
        {
            if ((uint)idx[i] >= (uint)rows)
                throw new ArgumentOutOfRangeException(nameof(indices), $"{op}: row index {idx[i]} at {i} is outside [0, {rows})");
            new ReadOnlySpan<byte>((byte*)x.Address + (long)idx[i] * rowBytes, rowBytes)
                .CopyTo(new Span<byte>((byte*)output.Address + (long)i * rowBytes, rowBytes));
        }
    }
}
