using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// The CUDA driver API (libcuda). Entry points use the `_v2` names where cuda.h maps the plain name to one, since the
/// plain symbols are the old 32-bit-size ABI. Handles are nint; CUdeviceptr is ulong. Call only after
/// <see cref="Cuda.CudaDriver.TryLoad"/> succeeded: the resolver loads the library it found there.
/// </summary>
internal static unsafe partial class CuNative
{
    public const string Library = "libcuda.so.1";

    static CuNative() => NativeLibraries.EnsureRegistered();

    [LibraryImport(Library)] public static partial CuResult cuInit(uint flags);
    [LibraryImport(Library)] public static partial CuResult cuDriverGetVersion(int* version);
    [LibraryImport(Library)] public static partial CuResult cuGetErrorName(CuResult error, byte** name);
    [LibraryImport(Library)] public static partial CuResult cuGetErrorString(CuResult error, byte** text);

    [LibraryImport(Library)] public static partial CuResult cuDeviceGet(int* device, int ordinal);
    [LibraryImport(Library)] public static partial CuResult cuDeviceGetCount(int* count);
    [LibraryImport(Library)] public static partial CuResult cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Library)] public static partial CuResult cuDeviceGetAttribute(int* value, CuDeviceAttribute attribute, int device);
    [LibraryImport(Library)] public static partial CuResult cuDeviceTotalMem_v2(nuint* bytes, int device);

    [LibraryImport(Library)] public static partial CuResult cuDevicePrimaryCtxRetain(nint* context, int device);
    [LibraryImport(Library)] public static partial CuResult cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Library)] public static partial CuResult cuCtxSetCurrent(nint context);
    [LibraryImport(Library)] public static partial CuResult cuCtxGetCurrent(nint* context);
    [LibraryImport(Library)] public static partial CuResult cuCtxSynchronize();

    [LibraryImport(Library)] public static partial CuResult cuStreamCreate(nint* stream, uint flags);
    [LibraryImport(Library)] public static partial CuResult cuStreamDestroy_v2(nint stream);
    [LibraryImport(Library)] public static partial CuResult cuStreamSynchronize(nint stream);
    [LibraryImport(Library)] public static partial CuResult cuStreamQuery(nint stream);

    [LibraryImport(Library)] public static partial CuResult cuEventCreate(nint* @event, uint flags);
    [LibraryImport(Library)] public static partial CuResult cuEventRecord(nint @event, nint stream);
    [LibraryImport(Library)] public static partial CuResult cuEventSynchronize(nint @event);
    [LibraryImport(Library)] public static partial CuResult cuEventElapsedTime(float* milliseconds, nint start, nint end);
    [LibraryImport(Library)] public static partial CuResult cuEventDestroy_v2(nint @event);

    [LibraryImport(Library)] public static partial CuResult cuMemAlloc_v2(ulong* pointer, nuint bytes);
    [LibraryImport(Library)] public static partial CuResult cuMemFree_v2(ulong pointer);
    [LibraryImport(Library)] public static partial CuResult cuMemGetInfo_v2(nuint* free, nuint* total);
    [LibraryImport(Library)] public static partial CuResult cuMemHostAlloc(void** pointer, nuint bytes, uint flags);
    [LibraryImport(Library)] public static partial CuResult cuMemFreeHost(void* pointer);

    [LibraryImport(Library)] public static partial CuResult cuMemcpyHtoD_v2(ulong destination, void* source, nuint bytes);
    [LibraryImport(Library)] public static partial CuResult cuMemcpyDtoH_v2(void* destination, ulong source, nuint bytes);
    [LibraryImport(Library)] public static partial CuResult cuMemcpyDtoD_v2(ulong destination, ulong source, nuint bytes);
    [LibraryImport(Library)] public static partial CuResult cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, nint stream);
    [LibraryImport(Library)] public static partial CuResult cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, nint stream);
    [LibraryImport(Library)] public static partial CuResult cuMemcpyDtoDAsync_v2(ulong destination, ulong source, nuint bytes, nint stream);

    [LibraryImport(Library)] public static partial CuResult cuMemsetD8_v2(ulong destination, byte value, nuint count);
    [LibraryImport(Library)] public static partial CuResult cuMemsetD16_v2(ulong destination, ushort value, nuint count);
    [LibraryImport(Library)] public static partial CuResult cuMemsetD32_v2(ulong destination, uint value, nuint count);
    [LibraryImport(Library)] public static partial CuResult cuMemsetD8Async(ulong destination, byte value, nuint count, nint stream);
    [LibraryImport(Library)] public static partial CuResult cuMemsetD16Async(ulong destination, ushort value, nuint count, nint stream);
    [LibraryImport(Library)] public static partial CuResult cuMemsetD32Async(ulong destination, uint value, nuint count, nint stream);

    [LibraryImport(Library)] public static partial CuResult cuModuleLoadData(nint* module, void* image);
    [LibraryImport(Library)]
    public static partial CuResult cuModuleLoadDataEx(nint* module, void* image, uint optionCount, CuJitOption* options, void** optionValues);
    [LibraryImport(Library)] public static partial CuResult cuModuleUnload(nint module);
    [LibraryImport(Library)] public static partial CuResult cuModuleGetFunction(nint* function, nint module, byte* name);

    [LibraryImport(Library)] public static partial CuResult cuFuncSetAttribute(nint function, CuFunctionAttribute attribute, int value);
    [LibraryImport(Library)] public static partial CuResult cuFuncGetAttribute(int* value, CuFunctionAttribute attribute, nint function);

    [LibraryImport(Library)]
    public static partial CuResult cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY,
        uint blockZ, uint sharedMemBytes, nint stream, void** kernelParams, void** extra);
}
