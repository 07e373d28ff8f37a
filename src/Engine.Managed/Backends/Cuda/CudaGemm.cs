using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>Placeholder so that this branch compiles: the tensor-core GEMMs are written on branch cudagemm.</summary>
internal static class CudaGemm
{
    public static void MatMul(KernelLibrary lib, CudaStream stream, Tensor x, Tensor w, Tensor y, bool accumulate) =>
        throw new NotImplementedException("written on branch cudagemm");

    public static void MatMulInputGrad(KernelLibrary lib, CudaStream stream, Tensor dy, Tensor w, Tensor dx, bool accumulate) =>
        throw new NotImplementedException("written on branch cudagemm");
}
