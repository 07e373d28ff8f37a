namespace CoAR.Engine.Managed.Cuda;

/// <summary>What NVRTC produces: machine code for one GPU, or PTX the driver compiles when it loads it.</summary>
public enum KernelTarget
{
    /// <summary>SASS for exactly one architecture (--gpu-architecture=sm_XY): no JIT at load, no PTX-version mismatch.</summary>
    Cubin,

    /// <summary>PTX for a virtual architecture (--gpu-architecture=compute_XY), JIT-compiled by the driver at load.</summary>
    Ptx,
}
