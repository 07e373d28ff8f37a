namespace CoAR.Engine.Managed.Cuda;

/// <summary>A kernel file compiled for one architecture: the image the driver loads, and how it was obtained.</summary>
/// <param name="KernelFile">The source file ("rows.cu").</param>
/// <param name="Architecture">The compute capability it was built for.</param>
/// <param name="Target">CUBIN or PTX.</param>
/// <param name="Image">CUBIN bytes, or PTX text without a terminating NUL.</param>
/// <param name="Log">NVRTC's log; empty when NVRTC had nothing to say or the image came from the cache.</param>
/// <param name="CacheKey">Hex SHA-256 of source, headers, options, architecture, target and NVRTC version.</param>
/// <param name="CacheOutcome">Whether NVRTC ran, and why.</param>
/// <param name="CacheNote">Why a cached file was rejected, or why the cache could not be written; null otherwise.</param>
/// <param name="Options">The NVRTC options used.</param>
public sealed record CompiledKernel(
    string KernelFile,
    ComputeCapability Architecture,
    KernelTarget Target,
    byte[] Image,
    string Log,
    string CacheKey,
    KernelCacheOutcome CacheOutcome,
    string? CacheNote,
    IReadOnlyList<string> Options)
{
    /// <summary>"CUBIN for sm_90" / "PTX for compute_80", for messages.</summary>
    public string Description => Target == KernelTarget.Cubin ? $"CUBIN for {Architecture.SmName}" : $"PTX for {Architecture.ComputeName}";
}
