namespace CoAR.Engine.Managed.Cuda;

/// <summary>Where <see cref="KernelCompiler"/> gets its sources, caches its output, and whether it uses prebuilt fatbins.</summary>
public sealed record KernelCompilerOptions
{
    /// <summary>The sources; by default the kernels/ directory embedded in this assembly.</summary>
    public KernelSourceSet Sources { get; init; } = KernelSourceSet.Embedded;

    /// <summary>The on-disk cache directory; null compiles every time.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>
    /// A directory of prebuilt fatbins, one per kernel file ("rows.fatbin"), as CMakeLists.txt builds them.
    /// When set, modules are loaded from there and NVRTC is not used.
    /// </summary>
    public string? FatbinDirectory { get; init; }

    /// <summary>NVRTC options added after the defaults (e.g. "-DDEBUG_CHECKS=1").</summary>
    public IReadOnlyList<string> ExtraOptions { get; init; } = [];

    /// <summary>Cache in <see cref="KernelCache.DefaultDirectory"/>; prebuilt fatbins from $COAR_KERNEL_FATBIN when set.</summary>
    public static KernelCompilerOptions FromEnvironment() => new()
    {
        CacheDirectory = KernelCache.DefaultDirectory(),
        FatbinDirectory = Environment.GetEnvironmentVariable("COAR_KERNEL_FATBIN") is { Length: > 0 } fatbins ? fatbins : null,
    };
}
