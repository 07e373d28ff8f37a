using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.PointwiseKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>Element-wise ops (kernels/pointwise.cu): SwiGLU, its input gradients, addition; BF16 or F32, one dtype per call.</summary>
public sealed partial class CudaBackend
{
    private const int PointwiseThreads = 256;

    /// <summary>output = silu(gate) * up; output may be gate or up.</summary>
    public void SwiGlu(Tensor gate, Tensor up, Tensor output)
    {
        const string op = "SwiGlu";
        CheckFloat(op, "gate", gate);
        CheckSameType(op, "up", up, gate);
        CheckSameType(op, "output", output, gate);
        OpShapes.SwiGlu(op, gate, up, output);
        long n = gate.ElementCount;
        if (n == 0) return;
        var args = new SwiGluArgs { Out = Ptr(output), Gate = Ptr(gate), Up = Ptr(up), N = n, Vec = Flag(Aligned16(gate, up, output)) };
        Launch(PointwiseKernels.SwiGluForward.For(gate.DType), PointwiseGrid(n), PointwiseThreads, ref args);
    }

    /// <summary>y = a + b; y may be a or b.</summary>
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        const string op = "Add";
        CheckFloat(op, "a", a);
        CheckSameType(op, "b", b, a);
        CheckSameType(op, "y", y, a);
        OpShapes.Add(op, a, b, y);
        long n = a.ElementCount;
        if (n == 0) return;
        var args = new AddArgs { Y = Ptr(y), A = Ptr(a), B = Ptr(b), N = n, Vec = Flag(Aligned16(a, b, y)) };
        Launch(PointwiseKernels.Add.For(a.DType), PointwiseGrid(n), PointwiseThreads, ref args);
    }

    public void SwiGluBackward(Tensor gate, Tensor up, Tensor dOut, Tensor dGate, Tensor dUp)
    {
        const string op = "SwiGluBackward";
        CheckFloat(op, "gate", gate);
        CheckSameType(op, "up", up, gate);
        CheckSameType(op, "dOut", dOut, gate);
        CheckSameType(op, "dGate", dGate, gate);
        CheckSameType(op, "dUp", dUp, gate);
        OpShapes.SwiGluBackward(op, gate, up, dOut, dGate, dUp);
        foreach (var (name, input) in (ReadOnlySpan<(string, Tensor)>)[("gate", gate), ("up", up), ("dOut", dOut)])
        {
            OpCheck.NoAlias(op, name, input, "dGate", dGate);
            OpCheck.NoAlias(op, name, input, "dUp", dUp);
        }
        OpCheck.NoAlias(op, "dGate", dGate, "dUp", dUp);
        long n = gate.ElementCount;
        if (n == 0) return;
        var args = new SwiGluBackwardArgs
        {
            DGate = Ptr(dGate), DUp = Ptr(dUp), Gate = Ptr(gate), Up = Ptr(up), DOut = Ptr(dOut), N = n,
            Vec = Flag(Aligned16(gate, up, dOut) && Aligned16(dGate, dUp)),
        };
        Launch(PointwiseKernels.SwiGluBackward.For(gate.DType), PointwiseGrid(n), PointwiseThreads, ref args);
    }

    /// <summary>A grid-stride grid over <paramref name="n"/> elements, 8 per thread on the vector path.</summary>
    private Dim3 PointwiseGrid(long n) => StrideGrid(n / 8 + 1, PointwiseThreads);
}
