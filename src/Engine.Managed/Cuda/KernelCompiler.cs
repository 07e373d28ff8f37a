using System.Security.Cryptography;
using System.Text;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Compiles the kernel files with NVRTC and caches the images on disk, or loads prebuilt fatbins instead.
/// Every compilation gets all headers of the source set (so `#include "common.cuh"` resolves without a file system)
/// and these options, in order:
/// <list type="bullet">
/// <item>--gpu-architecture=sm_XY (CUBIN) or compute_XY (PTX): the target;</item>
/// <item>-std=c++17: the language the kernels are written in;</item>
/// <item>--ptxas-options=--warn-on-spills: a register spill is a warning, and the compile test fails on warnings;</item>
/// <item>-DCOAR_KERNELS=1: marks a build of kernels/ (CMakeLists.txt passes it too);</item>
/// <item>then <see cref="KernelCompilerOptions.ExtraOptions"/>.</item>
/// </list>
/// Fast math stays off (NVRTC's default): kernels opt into approximate exp2 explicitly (common.cuh's fast_exp2), so
/// everything else keeps IEEE division, square roots and denormals, which the CPU reference assumes.
/// Not used: -default-device, because device helpers say __device__ so each file also builds under nvcc exactly as
/// NVRTC builds it; -lineinfo, because NVRTC 11.8 crashes the process (SIGSEGV) building an sm_90 CUBIN with line
/// information for functions inlined from a header (add it through ExtraOptions to profile with a newer NVRTC).
/// </summary>
public sealed class KernelCompiler
{
    public static readonly IReadOnlyList<string> DefaultOptions = ["-std=c++17", "--ptxas-options=--warn-on-spills", "-DCOAR_KERNELS=1"];

    private readonly KernelCache? cache;
    private int nvrtcCompilations;

    public KernelCompiler() : this(KernelCompilerOptions.FromEnvironment())
    {
    }

    public KernelCompiler(KernelCompilerOptions options)
    {
        Options = options;
        cache = options.CacheDirectory is null ? null : new KernelCache(options.CacheDirectory);
    }

    public KernelCompilerOptions Options { get; }

    /// <summary>The disk cache, or null when caching is off.</summary>
    public KernelCache? Cache => cache;

    /// <summary>How many times this compiler has called NVRTC (cache hits do not count).</summary>
    public int NvrtcCompilations => Volatile.Read(ref nvrtcCompilations);

    /// <summary>The full NVRTC option list for an architecture and target.</summary>
    public IReadOnlyList<string> OptionsFor(ComputeCapability architecture, KernelTarget target) =>
    [
        $"--gpu-architecture={(target == KernelTarget.Cubin ? architecture.SmName : architecture.ComputeName)}",
        .. DefaultOptions,
        .. Options.ExtraOptions,
    ];

    /// <summary>Compiles one kernel file (or takes it from the cache). Throws <see cref="KernelCompileException"/> with the log.</summary>
    public CompiledKernel Compile(string kernelFile, ComputeCapability architecture, KernelTarget target = KernelTarget.Cubin)
    {
        var sources = Options.Sources;
        var source = sources.Source(kernelFile);
        var options = OptionsFor(architecture, target);
        var key = CacheKey(kernelFile, source, sources.Headers, options, target, Nvrtc.Version);
        var keyHex = Convert.ToHexStringLower(key);
        var cacheFile = $"{Path.GetFileNameWithoutExtension(kernelFile)}.{architecture.SmName}.{keyHex[..32]}.{(target == KernelTarget.Cubin ? "cubin" : "ptx")}";

        var outcome = KernelCacheOutcome.Disabled;
        string? note = null;
        if (cache is not null)
        {
            if (cache.TryRead(cacheFile, key, out var cached, out var rejection))
                return new CompiledKernel(kernelFile, architecture, target, cached, "", keyHex, KernelCacheOutcome.Hit, null, options);
            outcome = rejection is null ? KernelCacheOutcome.Miss : KernelCacheOutcome.Rebuilt;
            note = rejection;
        }

        var (image, log) = NvrtcProgram.Compile(kernelFile, source, sources.Headers, options, target);
        Interlocked.Increment(ref nvrtcCompilations);
        if (cache is not null)
        {
            try
            {
                cache.Write(cacheFile, key, image);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                note = $"could not write the kernel cache in {cache.Directory}: {e.Message}";
            }
        }
        return new CompiledKernel(kernelFile, architecture, target, image, log, keyHex, outcome, note, options);
    }

    /// <summary>
    /// Loads a kernel file as a module for the context's GPU: the prebuilt fatbin when a fatbin directory is set,
    /// otherwise a CUBIN for the device's own architecture (PTX for the newest older one when NVRTC does not know the device).
    /// </summary>
    public CudaModule LoadModule(CudaContext context, string kernelFile)
    {
        if (Options.FatbinDirectory is { } directory)
        {
            var path = Path.Combine(directory, Path.GetFileNameWithoutExtension(kernelFile) + ".fatbin");
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"The fatbin directory {directory} (COAR_KERNEL_FATBIN) has no {Path.GetFileName(path)} for {kernelFile}: " +
                    "build it with CMakeLists.txt (cmake -B build && cmake --build build), or unset COAR_KERNEL_FATBIN to compile with NVRTC.", path);
            return context.LoadModule(File.ReadAllBytes(path), kernelFile, $"fatbin {path}");
        }
        var (architecture, target) = ChooseTarget(context.Device.ComputeCapability, Nvrtc.SupportedArchitectures);
        var compiled = Compile(kernelFile, architecture, target);
        return context.LoadModule(compiled.Image, kernelFile, $"{compiled.Description} from NVRTC {Nvrtc.Version}");
    }

    /// <summary>
    /// A CUBIN for the device when NVRTC supports it (or cannot list what it supports); otherwise PTX for the newest
    /// architecture it knows below the device, which the driver compiles forward at load.
    /// </summary>
    internal static (ComputeCapability Architecture, KernelTarget Target) ChooseTarget(ComputeCapability device,
        IReadOnlyList<ComputeCapability> supported)
    {
        if (supported.Count == 0 || supported.Contains(device))
            return (device, KernelTarget.Cubin);
        var older = supported.Where(a => a.CompareTo(device) < 0).ToList();
        if (older.Count == 0)
            throw new NotSupportedException(
                $"This NVRTC compiles for {string.Join(", ", supported.Select(a => a.SmName))}; the GPU is {device.SmName}, older than all of them.");
        return (older.Max(), KernelTarget.Ptx);
    }

    private static byte[] CacheKey(string kernelFile, string source, IReadOnlyList<KeyValuePair<string, string>> headers,
        IReadOnlyList<string> options, KernelTarget target, Version nvrtcVersion)
    {
        // Length-prefixed fields, so no two different inputs concatenate to the same bytes.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            hash.AppendData(BitConverter.GetBytes(bytes.LongLength));
            hash.AppendData(bytes);
        }
        Add("coar-kernel-cache-v1");
        Add(kernelFile);
        Add(source);
        Add(headers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (name, text) in headers)
        {
            Add(name);
            Add(text);
        }
        Add(options.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var option in options)
            Add(option);
        Add(target.ToString());
        Add($"nvrtc {nvrtcVersion}");
        return hash.GetHashAndReset();
    }
}
