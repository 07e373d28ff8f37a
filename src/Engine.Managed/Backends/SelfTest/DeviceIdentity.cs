using System.Security.Cryptography;
using System.Text;

namespace CoAR.Engine.Managed.Backends.SelfTest;

/// <summary>
/// What a device self-test result holds for: the device (name and compute capability), its driver, the kernel
/// compiler (NVRTC's version and options, or the prebuilt fatbins), the kernel sources and the engine build. Any
/// change is a new <see cref="Key"/>, so the self-test runs again after a driver update, a new NVRTC, an edited
/// kernel or a changed launcher.
/// </summary>
/// <param name="Device">The device's name ("NVIDIA H100 80GB HBM3").</param>
/// <param name="ComputeCapability">"9.0".</param>
/// <param name="Driver">The driver's version and library ("12.4 (/usr/lib/x86_64-linux-gnu/libcuda.so.1)").</param>
/// <param name="KernelCompiler">"NVRTC 12.4 -std=c++17 ..." or "fatbins in DIR, sha256 ...".</param>
/// <param name="KernelSources">SHA-256 of the kernel sources the engine compiles.</param>
/// <param name="Engine">The engine build (<see cref="EngineBuild"/>).</param>
public sealed record DeviceIdentity(string Device, string ComputeCapability, string Driver, string KernelCompiler, string KernelSources, string Engine)
{
    /// <summary>The cache key: 24 hex digits of SHA-256 over every field.</summary>
    public string Key => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
        string.Join('\0', "coar-self-test-v1", Device, ComputeCapability, Driver, KernelCompiler, KernelSources, Engine))))[..24];

    /// <summary>
    /// This engine's build: the module version id of CoAR.Engine.Managed, which holds the launchers and the CPU
    /// reference. Builds are deterministic, so it changes exactly when their code does.
    /// </summary>
    public static string EngineBuild => typeof(DeviceIdentity).Assembly.ManifestModule.ModuleVersionId.ToString("N");

    public override string ToString() => $"{Device}, compute capability {ComputeCapability}, driver {Driver}, {KernelCompiler}";
}
