using System.Globalization;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Backends.Cuda;

namespace CoAR.Engine.Managed.Backends;

/// <summary>Creates the backend a user names: "cpu", "cuda" (or "cuda:N"), or "auto" (CUDA where it works, else CPU).</summary>
public static class BackendFactory
{
    public static readonly string[] DeviceNames = ["auto", "cpu", "cuda"];

    /// <param name="device">auto | cpu | cuda | cuda:N</param>
    /// <param name="fallbackReason">Why "auto" fell back to the CPU, or null.</param>
    /// <exception cref="DeviceUnavailableException">"cuda" or "cuda:N" was asked for and cannot be used here.</exception>
    public static IBackend Create(string device, out string? fallbackReason)
    {
        fallbackReason = null;
        string d = device.Trim().ToLowerInvariant();
        if (d == "cpu")
            return new CpuBackend();
        if (d == "auto")
        {
            if (CudaBackend.IsAvailable(0, out var reason))
                return CudaBackend.Create(0);
            fallbackReason = reason;
            return new CpuBackend();
        }
        if (d == "cuda")
            return CudaBackend.Create(0);
        if (d.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!int.TryParse(d.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int ordinal))
                throw new ArgumentException($"device '{device}': expected cuda:N with N a device number (0, 1, ...)");
            return CudaBackend.Create(ordinal);
        }
        throw new ArgumentException($"unknown device '{device}'; expected one of {string.Join(", ", DeviceNames)} or cuda:N");
    }
}
