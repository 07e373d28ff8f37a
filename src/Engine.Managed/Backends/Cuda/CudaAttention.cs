using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>Placeholder so that this branch compiles: the attention kernels are written on branch cudagemm.</summary>
internal static class CudaAttention
{
    public static void Forward(KernelLibrary lib, CudaStream stream, Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output,
        Tensor? logSumExp) =>
        throw new NotImplementedException("written on branch cudagemm");

    public static void Backward(KernelLibrary lib, CudaStream stream, Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output,
        Tensor logSumExp, Tensor dOutput, Tensor dq, Tensor dKeys, Tensor dValues) =>
        throw new NotImplementedException("written on branch cudagemm");
}
