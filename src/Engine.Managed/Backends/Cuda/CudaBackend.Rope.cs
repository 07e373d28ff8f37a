using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.RopeKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>Rotary position embedding and its input gradient, the inverse rotation (kernels/rope.cu).</summary>
public sealed partial class CudaBackend
{
    /// <summary>Threads per token block of the RoPE kernel (a token's heads x Dh/2 pairs).</summary>
    private const int RopeThreads = 128;

    public void Rope(Tensor x, Tensor positions, float theta, Tensor y) => Rotate("Rope", "x", x, "y", y, positions, theta, 1f);

    public void RopeBackward(Tensor dy, Tensor positions, float theta, Tensor dx) =>
        Rotate("RopeBackward", "dy", dy, "dx", dx, positions, theta, -1f);

    /// <summary>Rotates each pair (j, j + Dh/2) by direction * pos * theta^(-2j/Dh); y may be x itself.</summary>
    private void Rotate(string op, string xName, Tensor x, string yName, Tensor y, Tensor positions, float theta, float direction)
    {
        CheckFloat(op, xName, x);
        CheckI32(op, "positions", positions);
        CheckSameType(op, yName, y, x);
        var (t, heads, dh) = OpShapes.Rope(op, xName, x, yName, y, positions);
        if (t == 0 || heads == 0 || dh == 0) return;
        var args = new RopeArgs
        {
            Y = Ptr(y), X = Ptr(x), Positions = Ptr(positions), Heads = heads, Dh = dh, Theta = theta, Direction = direction,
            Vec = Flag(dh / 2 % 8 == 0 && Aligned16(x, y)),
        };
        Launch(RopeKernels.Rope.For(x.DType), t, RopeThreads, ref args, sharedBytes: dh * sizeof(float));
    }
}
