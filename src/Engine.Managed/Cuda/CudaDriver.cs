using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Loads and initialises the NVIDIA driver library once per process. <see cref="TryLoad"/> never throws: without a
/// driver or a GPU it says why (the library it looked for and every path it tried), and the engine uses the CPU backend.
/// </summary>
/// <remarks>Named CudaDriver rather than Cuda: a type called Cuda would be hidden by the CoAR.Engine.Managed.Cuda
/// namespace inside every CoAR.Engine.* namespace.</remarks>
public static unsafe class CudaDriver
{
    private static readonly Lazy<(bool Loaded, string Reason, int Version)> State = new(Initialise);

    /// <summary>True when libcuda loaded and cuInit succeeded; the reason says what loaded, or why not.</summary>
    public static bool TryLoad(out string reason)
    {
        var state = State.Value;
        reason = state.Reason;
        return state.Loaded;
    }

    /// <summary>The driver's CUDA version as the driver reports it: 12040 for 12.4.</summary>
    public static int Version => Require().Version;

    /// <summary>The path (or soname) libcuda was loaded from; null when it was not found.</summary>
    public static string? LibraryPath => NativeLibraries.Cuda.LoadedPath;

    /// <summary>Every path tried for libcuda, with what happened.</summary>
    public static IReadOnlyList<string> ProbeTrace => NativeLibraries.Cuda.Trace;

    /// <summary>Number of CUDA devices the driver sees.</summary>
    public static int DeviceCount
    {
        get
        {
            Require();
            int count;
            CudaCheck.Ok(CuNative.cuDeviceGetCount(&count), "cuDeviceGetCount");
            return count;
        }
    }

    /// <summary>"12.4" for 12040.</summary>
    public static string FormatVersion(int version) => $"{version / 1000}.{version % 1000 / 10}";

    /// <summary>Throws with the loader's reason when the driver is not usable.</summary>
    internal static (bool Loaded, string Reason, int Version) Require()
    {
        var state = State.Value;
        if (!state.Loaded)
            throw new InvalidOperationException($"The CUDA driver is not available: {state.Reason}");
        return state;
    }

    private static (bool, string, int) Initialise()
    {
        NativeLibraries.EnsureRegistered();
        var probe = NativeLibraries.Cuda;
        if (!probe.TryLoad(out _))
            return (false, probe.FailureReason(), 0);
        try
        {
            var init = CuNative.cuInit(0);
            if (init != CuResult.Success)
            {
                var (name, description) = CudaCheck.Describe(init);
                var hint = CudaErrorHints.For(init);
                return (false, $"{probe.LoadedPath} loaded, but cuInit failed: {name}: {description}.{(hint is null ? "" : " " + hint)}", 0);
            }
            int version;
            CudaCheck.Ok(CuNative.cuDriverGetVersion(&version), "cuDriverGetVersion");
            return CudaStandIn.IsLoaded
                ? (true, $"the CoAR CUDA stand-in, not a GPU: the CUDA {FormatVersion(version)} driver API on the CPU emulator ({probe.LoadedPath})", version)
                : (true, $"CUDA driver {FormatVersion(version)} ({probe.LoadedPath})", version);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or CudaException)
        {
            return (false, $"{probe.LoadedPath} loaded but is not a CUDA driver this engine can use: {e.Message}", 0);
        }
    }
}
