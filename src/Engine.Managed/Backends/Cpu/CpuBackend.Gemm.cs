using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void MatMul(Tensor x, Tensor w, Tensor y, bool accumulate = false)
    {
        const string op = "MatMul";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "x", x);
        OpCheck.Backend(this, op, "w", w);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "x", x, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        CheckWeight(op, "w", w);
        var (m, k, n) = OpShapes.MatMul(op, x, w, y);
        if (m <= CpuGemv.MaxRows && CpuGemv.Supported)
            CpuGemv.MatMul((float*)x.Address, w, (float*)y.Address, m, k, n, accumulate);
        else
            CpuGemm.MatMul((float*)x.Address, w, (float*)y.Address, m, k, n, accumulate);
    }

    public void Embedding(Tensor table, Tensor ids, Tensor output)
    {
        const string op = "Embedding";
        using var timing = CpuOpProfile.Time(op);
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
        using var timing = CpuOpProfile.Time(op);
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
