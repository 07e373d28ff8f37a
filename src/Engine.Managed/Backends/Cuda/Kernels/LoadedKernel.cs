using CoAR.Engine.Managed.Cuda;

namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>A loaded kernel that takes only the argument struct its descriptor names.</summary>
internal readonly struct LoadedKernel<TArgs>(CudaKernel function) where TArgs : unmanaged
{
    /// <summary>The driver's function, for attributes (the shared-memory opt-in).</summary>
    public CudaKernel Function { get; } = function;

    public void Launch(Dim3 grid, Dim3 block, int sharedBytes, CudaStream? stream, ref TArgs args) =>
        Function.Launch(grid, block, sharedBytes, stream, ref args);
}
