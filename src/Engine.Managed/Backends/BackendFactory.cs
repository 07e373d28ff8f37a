using CoAR.Engine.Managed.Backends.Cpu;

namespace CoAR.Engine.Managed.Backends;

/// <summary>Creates the backend a user names: "cpu", "cuda" (or "cuda:N"), or "auto" (CUDA where it works, else CPU).</summary>
public static class BackendFactory
{
    public static readonly string[] DeviceNames = ["auto", "cpu", "cuda"];

    /// <param name="device">auto | cpu | cuda | cuda:N</param>
    /// <param name="fallbackReason">Why "auto" fell back to the CPU, or null.</param>
    public static IBackend Create(string device, out string? fallbackReason)
    {
        fallbackReason = null;
        string d = device.Trim().ToLowerInvariant();
        if (d == "cpu")
            return new CpuBackend();
        if (d == "auto")
        {
            fallbackReason = "no CUDA backend in this build";
            return new CpuBackend();
        }
        if (d == "cuda" || d.StartsWith("cuda:", StringComparison.Ordinal))
            throw new DeviceUnavailableException($"device '{device}': the CUDA backend is not available in this build; use --device cpu");
        throw new ArgumentException($"unknown device '{device}'; expected one of {string.Join(", ", DeviceNames)} or cuda:N");
    }
}
