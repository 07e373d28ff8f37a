namespace CoAR.Engine.Managed.Backends.SelfTest;

/// <summary>
/// The GPUs <see cref="BackendFactory"/> can open, and what their self-test needs of them. <see cref="CudaDevices"/>
/// is this machine's CUDA; the tests give a faulty device of their own to drive the same decisions without a GPU.
/// </summary>
internal interface IGpuDevices
{
    /// <summary>True when device <paramref name="ordinal"/> can be opened; otherwise why not.</summary>
    bool IsAvailable(int ordinal, out string reason);

    /// <summary>
    /// Why `auto` must never choose these devices although they work (the driver is the CoAR stand-in, which emulates
    /// a GPU on the CPU for tests, thousands of times slower than the CPU backend), or null for a real GPU's driver.
    /// A device asked for by name still opens.
    /// </summary>
    string? NotAGpu { get; }

    /// <summary>Opens device <paramref name="ordinal"/>; throws <see cref="DeviceUnavailableException"/> saying why when it cannot.</summary>
    IBackend Open(int ordinal);

    /// <summary>What the self-test result of an open device holds for.</summary>
    DeviceIdentity Identify(IBackend device);

    /// <summary>Compiles and loads every kernel for the device: one check per kernel file.</summary>
    IReadOnlyList<SelfTestCheck> PrepareKernels(IBackend device);
}
