using System.Diagnostics.CodeAnalysis;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// One kernel of a module. <see cref="Launch{TArgs}"/> takes the kernel's parameters as one unmanaged struct whose
/// fields match the kernel's parameter list in order and type (a CUdeviceptr is a ulong, `long long n` a long), and
/// allocates nothing: the parameter pointers live on the stack.
/// </summary>
public sealed unsafe class CudaKernel
{
    internal CudaKernel(CudaModule module, string name, nint handle)
    {
        Module = module;
        Name = name;
        Handle = handle;
    }

    public CudaModule Module { get; }

    public string Name { get; }

    /// <summary>The CUfunction handle.</summary>
    public nint Handle { get; }

    /// <summary>Registers, static shared memory, local (spilled) memory and the thread limit the compiler settled on.</summary>
    public KernelResourceUsage ResourceUsage => new(
        Attribute(CuFunctionAttribute.NumRegisters),
        Attribute(CuFunctionAttribute.SharedSizeBytes),
        Attribute(CuFunctionAttribute.LocalSizeBytes),
        Attribute(CuFunctionAttribute.MaxThreadsPerBlock));

    /// <summary>Lets launches use up to this much dynamic shared memory (needed above 48 KiB).</summary>
    public void SetMaxDynamicSharedMemory(int bytes)
    {
        Module.Context.MakeCurrent();
        int limit = Module.Context.Device.MaxSharedMemoryPerBlockOptin;
        if (bytes < 0 || bytes > limit)
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
                $"kernel {Name}: dynamic shared memory must be 0..{limit} bytes on {Module.Context.Device.Name}");
        _ = Module.Handle; // throws when the module was unloaded
        CudaCheck.Ok(CuNative.cuFuncSetAttribute(Handle, CuFunctionAttribute.MaxDynamicSharedSizeBytes, bytes),
            "cuFuncSetAttribute", Name, Module.Name);
    }

    /// <summary>
    /// Queues the kernel on a stream (null: the legacy default stream). Each field of <paramref name="args"/> is one
    /// kernel parameter; the driver copies them before this returns.
    /// </summary>
    public void Launch<[DynamicallyAccessedMembers(KernelArgumentLayout<int>.ArgumentFields)] TArgs>(Dim3 grid, Dim3 block, int sharedBytes, CudaStream? stream, ref TArgs args) where TArgs : unmanaged
    {
        var offsets = KernelArgumentLayout<TArgs>.Offsets;
        var parameters = stackalloc void*[offsets.Length];
        Module.Context.MakeCurrent();
        _ = Module.Handle; // throws when the module was unloaded
        fixed (TArgs* basePointer = &args)
        {
            for (int i = 0; i < offsets.Length; i++)
                parameters[i] = (byte*)basePointer + offsets[i];
            var result = CuNative.cuLaunchKernel(Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, (uint)sharedBytes,
                CudaStream.HandleOf(stream), parameters, null);
            if (result != CuResult.Success)
                throw LaunchFailure(result, grid, block, sharedBytes);
        }
    }

    private CudaException LaunchFailure(CuResult result, Dim3 grid, Dim3 block, int sharedBytes)
    {
        var hint = $"grid {grid}, block {block}, {sharedBytes} bytes dynamic shared memory. {CudaErrorHints.For(result)}";
        return CudaCheck.Failure(result, "cuLaunchKernel", Name, Module.Name, hint);
    }

    private int Attribute(CuFunctionAttribute attribute)
    {
        Module.Context.MakeCurrent();
        _ = Module.Handle;
        int value;
        CudaCheck.Ok(CuNative.cuFuncGetAttribute(&value, attribute, Handle), $"cuFuncGetAttribute({attribute})", Name, Module.Name);
        return value;
    }
}
