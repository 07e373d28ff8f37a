using System.Runtime.CompilerServices;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void SwiGlu(Tensor gate, Tensor up, Tensor output)
    {
        const string op = "SwiGlu";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "gate", gate);
        OpCheck.Backend(this, op, "up", up);
        OpCheck.Backend(this, op, "output", output);
        OpCheck.DType(op, "gate", gate, DType.F32);
        OpCheck.DType(op, "up", up, DType.F32);
        OpCheck.DType(op, "output", output, DType.F32);
        OpShapes.SwiGlu(op, gate, up, output);
        int rows = gate.Rank == 0 ? 1 : gate.Dim(0);
        int width = (int)gate.RowElements;
        nint ga = gate.Address, ua = up.Address, oa = output.Address;
        CpuParallel.For(rows, 8L * width, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int i = first; i < last; i++)
            {
                long o = (long)i * width;
                var g = new ReadOnlySpan<float>((float*)ga + o, width);
                var u = new ReadOnlySpan<float>((float*)ua + o, width);
                var y = new Span<float>((float*)oa + o, width);
                for (int j = 0; j < width; j++)
                {
                    float gj = g[j];
                    y[j] = gj / (1f + MathF.Exp(-gj)) * u[j];
                }
            }
        });
    }

    public void Add(Tensor a, Tensor b, Tensor y)
    {
        const string op = "Add";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "a", a);
        OpCheck.Backend(this, op, "b", b);
        OpCheck.Backend(this, op, "y", y);
        OpCheck.DType(op, "a", a, DType.F32);
        OpCheck.DType(op, "b", b, DType.F32);
        OpCheck.DType(op, "y", y, DType.F32);
        OpShapes.Add(op, a, b, y);
        CpuVector.Add(F32(a), F32(b), F32(y));
    }
}
