using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Managed.Cuda;

namespace CoAR.Engine.Managed.Backends.SelfTest;

/// <summary>This machine's CUDA devices, as <see cref="BackendFactory"/> opens and self-tests them.</summary>
internal sealed class CudaDevices : IGpuDevices
{
    public static readonly CudaDevices Instance = new();

    private CudaDevices()
    {
    }

    public bool IsAvailable(int ordinal, out string reason) => CudaBackend.IsAvailable(ordinal, out reason);

    public string? NotAGpu => CudaStandIn.IsLoaded
        ? $"the CUDA driver is the CoAR stand-in ({CudaDriver.LibraryPath}), which emulates a GPU on the CPU"
        : null;

    public IBackend Open(int ordinal) => CudaBackend.Create(ordinal);

    public DeviceIdentity Identify(IBackend device) => Cuda(device).SelfTestIdentity;

    public IReadOnlyList<SelfTestCheck> PrepareKernels(IBackend device) => Cuda(device).PrepareKernels();

    private static CudaBackend Cuda(IBackend device) =>
        device as CudaBackend ?? throw new ArgumentException($"{device.Name} is not a CUDA backend", nameof(device));
}
