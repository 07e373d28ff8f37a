namespace CoAR.Engine.Managed.Cuda;

/// <summary>How a kernel image was obtained.</summary>
public enum KernelCacheOutcome
{
    /// <summary>No cache directory is configured: NVRTC compiled it.</summary>
    Disabled,

    /// <summary>Read from the cache; NVRTC was not called.</summary>
    Hit,

    /// <summary>Not in the cache: NVRTC compiled it and the cache now holds it.</summary>
    Miss,

    /// <summary>The cached file was corrupt, truncated or for another key: NVRTC compiled it again and replaced it.</summary>
    Rebuilt,
}
