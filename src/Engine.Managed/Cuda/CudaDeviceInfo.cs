using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>What the driver reports about one GPU; read without creating a context.</summary>
/// <param name="Ordinal">The device number (CUDA_VISIBLE_DEVICES applies).</param>
/// <param name="Name">Marketing name ("NVIDIA H100 80GB HBM3").</param>
/// <param name="ComputeCapability">Architecture version (9.0 for Hopper).</param>
/// <param name="MultiprocessorCount">Streaming multiprocessors (132 on an H100 SXM).</param>
/// <param name="TotalMemoryBytes">Device memory.</param>
/// <param name="MaxSharedMemoryPerBlock">Shared memory a block gets without opting in (48 KiB).</param>
/// <param name="MaxSharedMemoryPerBlockOptin">Shared memory a block may have after CudaKernel.SetMaxDynamicSharedMemory.</param>
/// <param name="MaxSharedMemoryPerMultiprocessor">Shared memory per SM, shared by its resident blocks.</param>
/// <param name="L2CacheBytes">L2 cache size.</param>
/// <param name="MemoryBusWidthBits">Memory bus width (5120 for HBM3 on an H100 SXM).</param>
/// <param name="MemoryClockKHz">Peak memory clock; 0 where the driver no longer reports it.</param>
/// <param name="MaxThreadsPerBlock">Threads per block limit (1024).</param>
public sealed record CudaDeviceInfo(
    int Ordinal,
    string Name,
    ComputeCapability ComputeCapability,
    int MultiprocessorCount,
    ulong TotalMemoryBytes,
    int MaxSharedMemoryPerBlock,
    int MaxSharedMemoryPerBlockOptin,
    int MaxSharedMemoryPerMultiprocessor,
    int L2CacheBytes,
    int MemoryBusWidthBits,
    int MemoryClockKHz,
    int MaxThreadsPerBlock)
{
    /// <summary>Theoretical memory bandwidth (double data rate x bus width); 0 when the clock is not reported.</summary>
    public double PeakMemoryBandwidthBytesPerSecond => 2.0 * MemoryClockKHz * 1000.0 * MemoryBusWidthBits / 8.0;

    /// <summary>Reads a device's properties. Needs a loaded driver (<see cref="CudaDriver.TryLoad"/>).</summary>
    public static unsafe CudaDeviceInfo Query(int ordinal)
    {
        CudaDriver.Require();
        int count = CudaDriver.DeviceCount;
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"CUDA device {ordinal} does not exist: the driver sees {count}");
        int device;
        CudaCheck.Ok(CuNative.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        byte* name = stackalloc byte[256];
        CudaCheck.Ok(CuNative.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        nuint total;
        CudaCheck.Ok(CuNative.cuDeviceTotalMem_v2(&total, device), "cuDeviceTotalMem_v2");
        return new CudaDeviceInfo(
            ordinal,
            NativeUtf8Strings.Read(name)!,
            new ComputeCapability(Attribute(device, CuDeviceAttribute.ComputeCapabilityMajor), Attribute(device, CuDeviceAttribute.ComputeCapabilityMinor)),
            Attribute(device, CuDeviceAttribute.MultiprocessorCount),
            total,
            Attribute(device, CuDeviceAttribute.MaxSharedMemoryPerBlock),
            Attribute(device, CuDeviceAttribute.MaxSharedMemoryPerBlockOptin),
            Attribute(device, CuDeviceAttribute.MaxSharedMemoryPerMultiprocessor),
            Attribute(device, CuDeviceAttribute.L2CacheSize),
            Attribute(device, CuDeviceAttribute.GlobalMemoryBusWidth),
            OptionalAttribute(device, CuDeviceAttribute.MemoryClockRate),
            Attribute(device, CuDeviceAttribute.MaxThreadsPerBlock));
    }

    private static unsafe int Attribute(int device, CuDeviceAttribute attribute)
    {
        int value;
        CudaCheck.Ok(CuNative.cuDeviceGetAttribute(&value, attribute, device), $"cuDeviceGetAttribute({attribute})");
        return value;
    }

    /// <summary>Clock attributes are deprecated in newer drivers, which may answer "not supported": that means unknown (0).</summary>
    private static unsafe int OptionalAttribute(int device, CuDeviceAttribute attribute)
    {
        int value;
        return CuNative.cuDeviceGetAttribute(&value, attribute, device) == CuResult.Success ? value : 0;
    }
}
