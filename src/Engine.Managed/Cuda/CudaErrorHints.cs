using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>What usually causes a CUDA error, in words a user can act on.</summary>
internal static class CudaErrorHints
{
    /// <summary>A general hint for an error code; null where the driver's own description says it all.</summary>
    public static string? For(CuResult code) => code switch
    {
        CuResult.OutOfMemory =>
            "The GPU has no room for this allocation: free buffers, lower the batch size or image size, or use a GPU with more memory.",
        CuResult.NoDevice =>
            "The driver sees no CUDA GPU: check nvidia-smi, CUDA_VISIBLE_DEVICES, and that the container was started with GPU access. The CPU backend runs without one.",
        CuResult.InsufficientDriver or CuResult.SystemDriverMismatch or CuResult.CompatNotSupportedOnDevice =>
            "The NVIDIA driver is older than this CUDA library needs, or libcuda does not match the kernel module: update the driver, or point COAR_LIBCUDA at the libcuda.so.1 matching the installed driver.",
        CuResult.NotInitialized or CuResult.Deinitialized =>
            "The CUDA driver was not initialised (cuInit failed or was not called): call CudaDriver.TryLoad first and check its reason.",
        CuResult.StubLibrary =>
            "The libcuda that loaded is the toolkit's stub (for linking only), not the driver: remove its directory from LD_LIBRARY_PATH or set COAR_LIBCUDA to the driver's libcuda.so.1.",
        CuResult.NoBinaryForGpu or CuResult.InvalidPtx or CuResult.UnsupportedPtxVersion or CuResult.InvalidImage =>
            ImageMismatch(null),
        CuResult.JitCompilerNotFound or CuResult.JitCompilationDisabled =>
            "The driver cannot JIT-compile PTX here: load a CUBIN compiled for this GPU's own architecture instead (the default).",
        CuResult.InvalidContext =>
            "No CUDA context is current on this thread: use the CudaContext's objects from a thread where it is current (CudaContext.MakeCurrent).",
        CuResult.LaunchOutOfResources =>
            "The launch asks for more than an SM has: too many threads per block for the kernel's register use, or more shared memory than allowed.",
        CuResult.InvalidValue =>
            "An argument is out of range: for launches check grid and block sizes (block <= 1024 threads) and dynamic shared memory (above 48 KiB needs CudaKernel.SetMaxDynamicSharedMemory).",
        CuResult.IllegalAddress or CuResult.LaunchFailed =>
            "A kernel faulted, usually by reading or writing out of bounds; the context is unusable from now on. Run with CUDA_LAUNCH_BLOCKING=1 to find the kernel, or under compute-sanitizer.",
        CuResult.LaunchTimeout =>
            "A kernel ran longer than the display watchdog allows: use a GPU without a display attached or split the work.",
        CuResult.NotFound =>
            "A kernel name was not found in the module: kernels are extern \"C\" __global__ functions, named op_variant_dtype.",
        _ => null,
    };

    /// <summary>For a module the driver cannot load: the image was built for another GPU, or by a newer compiler than the driver.</summary>
    public static string ImageMismatch(string? image)
    {
        var built = image is null ? "The kernel image" : $"The kernel image ({image})";
        return $"{built} does not match this GPU or driver: a CUBIN only runs on the architecture it was compiled for, and " +
               "PTX or CUBIN from an NVRTC newer than the driver cannot be loaded. Compile for the device's own compute " +
               "capability (the default), update the driver, or set COAR_NVRTC to an NVRTC no newer than the driver's CUDA version.";
    }

    /// <summary>For an allocation that did not fit: what was asked for against what the device had free.</summary>
    public static string OutOfMemory(string what, long requestedBytes, ulong freeBytes, ulong totalBytes) =>
        $"Requested {ByteSize.Format((ulong)requestedBytes)} ({requestedBytes} bytes) for {what}, but the device has {ByteSize.Format(freeBytes)} " +
        $"free of {ByteSize.Format(totalBytes)}: free buffers, lower the batch or image size, or use a GPU with more memory.";
}
