using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// Loads NVRTC (any major version 11.2 to 13) once per process, independently of the driver: kernels compile on a
/// machine without a GPU. <see cref="TryLoad"/> never throws; it says which file loaded, or where it looked.
/// </summary>
public static unsafe class Nvrtc
{
    private static readonly Lazy<State> Loaded = new(Initialise);

    public static bool TryLoad(out string reason)
    {
        var state = Loaded.Value;
        reason = state.Reason;
        return state.Ok;
    }

    /// <summary>NVRTC's version (major, minor): 11.8, 12.4, ...</summary>
    public static Version Version => Require().Version;

    /// <summary>The path (or soname) libnvrtc was loaded from; null when it was not found.</summary>
    public static string? LibraryPath => NativeLibraries.Nvrtc.LoadedPath;

    /// <summary>Every path tried for libnvrtc, with what happened.</summary>
    public static IReadOnlyList<string> ProbeTrace => NativeLibraries.Nvrtc.Trace;

    /// <summary>
    /// The real architectures this NVRTC can produce a CUBIN for, ascending; empty when the library predates
    /// nvrtcGetSupportedArchs (11.2) and cannot say.
    /// </summary>
    public static IReadOnlyList<ComputeCapability> SupportedArchitectures => Require().Architectures;

    /// <summary>True when this NVRTC can build a CUBIN for the architecture (assumed when it cannot list them).</summary>
    public static bool Supports(ComputeCapability architecture)
    {
        var list = SupportedArchitectures;
        return list.Count == 0 || list.Contains(architecture);
    }

    /// <summary>The text NVRTC gives for a result code.</summary>
    internal static string Describe(NvrtcResult result) =>
        NativeUtf8Strings.Read(NvrtcNative.nvrtcGetErrorString(result)) ?? $"nvrtcResult {(int)result}";

    internal static State Require()
    {
        var state = Loaded.Value;
        if (!state.Ok)
            throw new InvalidOperationException($"NVRTC is not available: {state.Reason}");
        return state;
    }

    private static State Initialise()
    {
        NativeLibraries.EnsureRegistered();
        var probe = NativeLibraries.Nvrtc;
        if (!probe.TryLoad(out var library))
            return new State(false, probe.FailureReason(), new Version(), []);
        try
        {
            int major, minor;
            var result = NvrtcNative.nvrtcVersion(&major, &minor);
            if (result != NvrtcResult.Success)
                return new State(false, $"{probe.LoadedPath} loaded, but nvrtcVersion failed: {Describe(result)}", new Version(), []);
            var version = new Version(major, minor);
            return new State(true, $"NVRTC {version} ({probe.LoadedPath})", version, Architectures(library));
        }
        catch (EntryPointNotFoundException e)
        {
            return new State(false, $"{probe.LoadedPath} loaded but is not an NVRTC library: {e.Message}", new Version(), []);
        }
    }

    private static ComputeCapability[] Architectures(nint library)
    {
        if (!NativeLibrary.TryGetExport(library, "nvrtcGetNumSupportedArchs", out var countExport) ||
            !NativeLibrary.TryGetExport(library, "nvrtcGetSupportedArchs", out var listExport))
            return [];
        var getCount = (delegate* unmanaged<int*, NvrtcResult>)countExport;
        var getList = (delegate* unmanaged<int*, NvrtcResult>)listExport;
        int count;
        if (getCount(&count) != NvrtcResult.Success || count <= 0)
            return [];
        var values = new int[count];
        fixed (int* p = values)
        {
            if (getList(p) != NvrtcResult.Success)
                return [];
        }
        return values.Order().Select(ComputeCapability.FromValue).ToArray();
    }

    internal sealed record State(bool Ok, string Reason, Version Version, IReadOnlyList<ComputeCapability> Architectures);
}
