using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>Row writes by index: context-token injection (replace), its gradient routing, and zero fills.</summary>
public sealed unsafe partial class CpuBackend
{
    public void ScatterRows(Tensor source, Tensor indices, Tensor destination)
    {
        const string op = "ScatterRows";
        using var timing = CpuOpProfile.Time(op);
        var idx = CheckScatter(op, source, indices, destination);
        // With repeated indices the result would depend on write order (and differ on a GPU), so they are refused.
        var seen = new HashSet<int>();
        for (int i = 0; i < idx.Length; i++)
            if (!seen.Add(idx[i]))
                throw new ArgumentException($"{op}: row index {idx[i]} appears more than once in 'indices' (at {i}); rows are replaced, so indices must be distinct");
        int rowBytes = source.Dim(1) * source.DType.SizeOf();
        for (int i = 0; i < idx.Length; i++)
            new ReadOnlySpan<byte>((byte*)source.Address + (long)i * rowBytes, rowBytes)
                .CopyTo(new Span<byte>((byte*)destination.Address + (long)idx[i] * rowBytes, rowBytes));
    }

    public void ScatterAddRows(Tensor source, Tensor indices, Tensor destination)
    {
        const string op = "ScatterAddRows";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.DType(op, "source", source, DType.F32);
        var idx = CheckScatter(op, source, indices, destination);
        int d = source.Dim(1);
        // In index order, so repeated indices add up in a fixed order.
        for (int i = 0; i < idx.Length; i++)
        {
            var dst = new Span<float>((float*)destination.Address + (long)idx[i] * d, d);
            CpuVector.Add(dst, new ReadOnlySpan<float>((float*)source.Address + (long)i * d, d), dst);
        }
    }

    public void ZeroRows(Tensor indices, Tensor destination)
    {
        const string op = "ZeroRows";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "indices", indices);
        OpCheck.Backend(this, op, "destination", destination);
        OpCheck.DType(op, "indices", indices, DType.I32);
        var (_, rows) = OpShapes.ZeroRows(op, indices, destination);
        var idx = I32(indices);
        CheckRowIndices(op, idx, rows);
        long rowBytes = destination.RowElements * destination.DType.SizeOf();
        foreach (int row in idx)
            NativeMemory.Clear((byte*)destination.Address + row * rowBytes, (nuint)rowBytes);
    }

    public void Zero(Tensor t)
    {
        using var timing = CpuOpProfile.Time("Zero");
        OpCheck.Backend(this, "Zero", "t", t);
        NativeMemory.Clear((void*)t.Address, (nuint)t.ByteLength);
    }

    /// <summary>Checks indices I32 within destination's rows and destination of source's dtype (shapes: <see cref="OpShapes"/>).</summary>
    private Span<int> CheckScatter(string op, Tensor source, Tensor indices, Tensor destination)
    {
        OpCheck.Backend(this, op, "source", source);
        OpCheck.Backend(this, op, "indices", indices);
        OpCheck.Backend(this, op, "destination", destination);
        OpCheck.DType(op, "indices", indices, DType.I32);
        OpCheck.DType(op, "destination", destination, source.DType);
        OpShapes.ScatterRows(op, source, indices, destination);
        var idx = I32(indices);
        CheckRowIndices(op, idx, destination.Dim(0));
        return idx;
    }

    private static void CheckRowIndices(string op, ReadOnlySpan<int> idx, int rows)
    {
        for (int i = 0; i < idx.Length; i++)
            if ((uint)idx[i] >= (uint)rows)
                throw new ArgumentOutOfRangeException("indices", $"{op}: row index {idx[i]} at {i} is outside the destination's rows [0, {rows})");
    }
}
