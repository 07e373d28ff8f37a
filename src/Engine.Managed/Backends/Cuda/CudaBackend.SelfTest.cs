using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using CoAR.Engine.Managed.Backends.SelfTest;
using CoAR.Engine.Managed.Cuda;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>What the device self-test (<see cref="DeviceSelfTest"/>) needs of this backend: its identity, and every kernel built.</summary>
public sealed partial class CudaBackend
{
    /// <summary>What a self-test result on this device, driver, compiler, kernels and engine holds for.</summary>
    public DeviceIdentity SelfTestIdentity => IdentityOf(_context.Device, _kernels.Compiler.Options);

    /// <summary>The identity of a device as <see cref="SelfTestIdentity"/> would give it once opened (`coar info` reads it without a context).</summary>
    public static DeviceIdentity IdentityOf(CudaDeviceInfo device, KernelCompilerOptions options)
    {
        string driver = $"{CudaDriver.FormatVersion(CudaDriver.Version)} ({CudaDriver.LibraryPath})";
        string compiler = options.FatbinDirectory is { } fatbins
            ? $"fatbins in {fatbins}, sha256 {FatbinHash(fatbins)}"
            : $"NVRTC {Nvrtc.Version} {string.Join(' ', KernelCompiler.DefaultOptions.Concat(options.ExtraOptions))}";
        return new DeviceIdentity(device.Name, device.ComputeCapability.ToString(), driver, compiler, options.Sources.ContentHash,
            DeviceIdentity.EngineBuild);
    }

    /// <summary>
    /// Builds every kernel file for this device and loads it: NVRTC compiles the files in parallel (through the kernel
    /// cache, so a later use loads them at once), then each module loads. One check per file; a compile error, a
    /// module the driver refuses or a missing fatbin is a failed check, not an exception.
    /// </summary>
    internal IReadOnlyList<SelfTestCheck> PrepareKernels()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var options = _kernels.Compiler.Options;
        var files = options.Sources.KernelFiles;
        var compileErrors = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var compiled = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        if (options.FatbinDirectory is null)
        {
            var (architecture, target) = KernelCompiler.ChooseTarget(_context.Device.ComputeCapability, Nvrtc.SupportedArchitectures);
            Parallel.ForEach(files, file =>
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    var kernel = _kernels.Compiler.Compile(file, architecture, target);
                    compiled[file] = kernel.CacheOutcome == KernelCacheOutcome.Hit ? "from the kernel cache, " : $"built in {clock.Elapsed.TotalSeconds:0.0} s, ";
                }
                catch (Exception e) when (e is KernelCompileException or NotSupportedException or CudaException)
                {
                    compileErrors[file] = e.Message;
                }
            });
        }
        var checks = new List<SelfTestCheck>();
        foreach (var file in files)
        {
            string name = $"kernels {file}";
            if (compileErrors.TryGetValue(file, out var error))
            {
                checks.Add(new SelfTestCheck(name, false, $"does not compile: {error}"));
                continue;
            }
            try
            {
                var module = _kernels.Load(file);
                checks.Add(new SelfTestCheck(name, true, $"{compiled.GetValueOrDefault(file, "")}loaded ({module.ImageDescription})"));
            }
            catch (Exception e) when (e is KernelCompileException or CudaException or FileNotFoundException or NotSupportedException)
            {
                checks.Add(new SelfTestCheck(name, false, $"does not load: {e.Message}"));
            }
        }
        return checks;
    }

    private static string FatbinHash(string directory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (Directory.Exists(directory))
        {
            foreach (var path in Directory.EnumerateFiles(directory, "*.fatbin").Order(StringComparer.Ordinal))
            {
                hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(path)));
                hash.AppendData(File.ReadAllBytes(path));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
