using System.Globalization;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Backends.SelfTest;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// Creates the backend a user names: "cpu", "cuda" (or "cuda:N"), or "auto": CUDA device 0 when it is a GPU (not the
/// CoAR driver stand-in) that has passed its self-test on this machine, else the CPU with the reason. A GPU's first use with a given device, driver, kernel
/// compiler, kernel sources and engine build runs the self-test (<see cref="DeviceSelfTest"/>: seconds) and keeps its
/// result (<see cref="SelfTestCache"/>); later uses read it. A GPU asked for by name runs even when it failed, with a
/// warning.
/// </summary>
public static class BackendFactory
{
    public static readonly string[] DeviceNames = ["auto", "cpu", "cuda"];

    /// <param name="device">auto | cpu | cuda | cuda:N</param>
    /// <exception cref="DeviceUnavailableException">"cuda" or "cuda:N" was asked for and cannot be used here.</exception>
    /// <exception cref="ArgumentException">The name is none of those.</exception>
    public static BackendSelection Open(string device) => Open(device, CudaDevices.Instance, SelfTestCache.Default());

    internal static BackendSelection Open(string device, IGpuDevices gpus, SelfTestCache cache)
    {
        string d = device.Trim().ToLowerInvariant();
        if (d == "cpu")
            return new BackendSelection(new CpuBackend());
        if (d == "auto")
            return Auto(gpus, cache);
        if (d == "cuda")
            return Named(0, gpus, cache);
        if (d.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!int.TryParse(d.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int ordinal))
                throw new ArgumentException($"device '{device}': expected cuda:N with N a device number (0, 1, ...)");
            return Named(ordinal, gpus, cache);
        }
        throw new ArgumentException($"unknown device '{device}'; expected one of {string.Join(", ", DeviceNames)} or cuda:N");
    }

    /// <summary>Why `auto` never uses this machine's CUDA devices although they work (the driver is the CoAR stand-in), or null.</summary>
    public static string? CudaNotAGpu => CudaDevices.Instance.NotAGpu;

    /// <summary>
    /// Runs the self-test of an open GPU now, even when a result is kept, and keeps the new one (`coar info --self-test`).
    /// </summary>
    public static SelfTestResult RunSelfTest(IBackend gpu, SelfTestCache cache, out string? keepError) =>
        SelfTestOf(gpu, CudaDevices.Instance, cache, rerun: true, out _, out keepError);

    private static BackendSelection Auto(IGpuDevices gpus, SelfTestCache cache)
    {
        if (!gpus.IsAvailable(0, out var reason))
            return new BackendSelection(new CpuBackend(), reason);
        if (gpus.NotAGpu is { } notAGpu)
            return new BackendSelection(new CpuBackend(), $"{notAGpu}: auto uses only a GPU (--device cuda runs on it)");
        IBackend gpu;
        try
        {
            gpu = gpus.Open(0);
        }
        catch (Exception e) when (e is DeviceUnavailableException or Managed.Cuda.CudaException)
        {
            return new BackendSelection(new CpuBackend(), e.Message);
        }
        try
        {
            var result = SelfTestOf(gpu, gpus, cache, rerun: false, out bool ranNow, out var keepError);
            if (result.Passed)
                return new BackendSelection(gpu, null, result, ranNow, keepError);
            string why = $"{gpu.Name} failed its self-test ({result.Summary}); {BackendSelection.SelfTestHelp}";
            gpu.Dispose();
            return new BackendSelection(new CpuBackend(), why, result, ranNow, keepError);
        }
        catch
        {
            gpu.Dispose();
            throw;
        }
    }

    private static BackendSelection Named(int ordinal, IGpuDevices gpus, SelfTestCache cache)
    {
        var gpu = gpus.Open(ordinal);
        try
        {
            var result = SelfTestOf(gpu, gpus, cache, rerun: false, out bool ranNow, out var keepError);
            return new BackendSelection(gpu, null, result, ranNow, keepError);
        }
        catch
        {
            gpu.Dispose();
            throw;
        }
    }

    private static SelfTestResult SelfTestOf(IBackend gpu, IGpuDevices gpus, SelfTestCache cache, bool rerun, out bool ranNow, out string? keepError)
    {
        var identity = gpus.Identify(gpu);
        return cache.GetOrRun(identity, () => DeviceSelfTest.Run(identity, gpu, () => gpus.PrepareKernels(gpu)), rerun, out ranNow, out keepError);
    }
}
