using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>Element-wise ops (kernels/pointwise.cu): SwiGLU, its input gradients, addition; BF16 or F32, one dtype per call.</summary>
public sealed partial class CudaBackend
{
    private const int PointwiseThreads = 256;

    private struct BinaryArgs
    {
        public ulong Output, A, B;
        public long N;
        public int Vec;
    }

    private struct SwiGluBackwardArgs
    {
        public ulong DGate, DUp, Gate, Up, DOut;
        public long N;
        public int Vec;
    }

    /// <summary>output = silu(gate) * up; output may be gate or up.</summary>
    public void SwiGlu(Tensor gate, Tensor up, Tensor output)
    {
        const string op = "SwiGlu";
        CheckFloat(op, "gate", gate);
        CheckSameType(op, "up", up, gate);
        CheckSameType(op, "output", output, gate);
        OpShapes.SwiGlu(op, gate, up, output);
        Binary("swiglu_fwd_bf16", "swiglu_fwd_f32", gate, up, output);
    }

    /// <summary>y = a + b; y may be a or b.</summary>
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        const string op = "Add";
        CheckFloat(op, "a", a);
        CheckSameType(op, "b", b, a);
        CheckSameType(op, "y", y, a);
        OpShapes.Add(op, a, b, y);
        Binary("add_bf16", "add_f32", a, b, y);
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
        Launch("pointwise.cu", gate.DType == DType.BF16 ? "swiglu_bwd_bf16" : "swiglu_bwd_f32", StrideGrid(n / 8 + 1, PointwiseThreads),
            PointwiseThreads, ref args);
    }

    private void Binary(string bf16Kernel, string f32Kernel, Tensor a, Tensor b, Tensor output)
    {
        long n = a.ElementCount;
        if (n == 0) return;
        var args = new BinaryArgs { Output = Ptr(output), A = Ptr(a), B = Ptr(b), N = n, Vec = Flag(Aligned16(a, b, output)) };
        Launch("pointwise.cu", a.DType == DType.BF16 ? bf16Kernel : f32Kernel, StrideGrid(n / 8 + 1, PointwiseThreads), PointwiseThreads, ref args);
    }
}
