using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>The GEMMs: argument checks here, the tensor-core kernels in <see cref="CudaGemm"/>.</summary>
public sealed partial class CudaBackend
{
    /// <summary>y = x W^T (+ y). x [M, K], w [N, K], y [M, N]: each BF16 or F32 (activations BF16, logits F32).</summary>
    public void MatMul(Tensor x, Tensor w, Tensor y, bool accumulate = false)
    {
        const string op = "MatMul";
        CheckFloat(op, "x", x);
        CheckFloat(op, "w", w);
        CheckFloat(op, "y", y);
        OpShapes.MatMul(op, x, w, y);
        CudaGemm.MatMul(_kernels, _stream, x, w, y, accumulate);
    }

    /// <summary>dx = dy W (+ dx). dy [M, N], w [N, K], dx [M, K]: each BF16 or F32 (dLogits F32).</summary>
    public void MatMulInputGrad(Tensor dy, Tensor w, Tensor dx, bool accumulate = false)
    {
        const string op = "MatMulInputGrad";
        CheckFloat(op, "dy", dy);
        CheckFloat(op, "w", w);
        CheckFloat(op, "dx", dx);
        OpShapes.MatMulInputGrad(op, dy, w, dx);
        CudaGemm.MatMulInputGrad(_kernels, _stream, dy, w, dx, accumulate);
    }

    /// <summary>dW = dy^T x (+ dW). dy [M, N] and x [M, K] both BF16 or both F32, dW [N, K] F32.</summary>
    public void WeightGradient(Tensor dy, Tensor x, Tensor dw, bool accumulate = false)
    {
        const string op = "WeightGradient";
        CheckFloat(op, "dy", dy);
        OpCheck.DType(op, "x", x, dy.DType);
        OpCheck.DType(op, "dw", dw, DType.F32);
        OpShapes.WeightGradient(op, dy, x, dw);
        CudaGemm.WeightGradient(_kernels, _stream, dy, x, dw, accumulate);
    }
}
