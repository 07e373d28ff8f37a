using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// The CoAR CUDA stand-in (kernels/emulator/standin): a libcuda that runs the engine's kernels on the CPU emulator of
/// the CUDA execution model, for tests on machines without a GPU. It is picked only through COAR_LIBCUDA. When it is
/// the driver that loaded, everything says so (so no result of it is taken for a GPU's), <c>--device auto</c> never
/// chooses it (it is thousands of times slower than the CPU backend), and each driver error carries its report of
/// the fault: the kernel, the launch, the allocation.
/// </summary>
public static unsafe class CudaStandIn
{
    private static readonly Lazy<Exports?> Loaded = new(Find);

    /// <summary>True when the CUDA driver that loaded is the stand-in.</summary>
    public static bool IsLoaded => Loaded.Value is not null;

    /// <summary>What the stand-in says it is (its kernels, its worker threads); null when it is not the loaded driver.</summary>
    public static string? Description => Loaded.Value is { } exports ? NativeUtf8Strings.Read(exports.Describe()) : null;

    /// <summary>
    /// The stand-in's report of its last error when that error was <paramref name="result"/>; null when it is not the
    /// loaded driver, or its last report is about another error.
    /// </summary>
    internal static string? ReportOf(CuResult result)
    {
        if (Loaded.Value is not { } exports)
            return null;
        CuResult code;
        int length = exports.LastReport(null, 0, &code);
        if (length <= 0 || code != result)
            return null;
        var buffer = new byte[length + 1];
        fixed (byte* p = buffer)
            exports.LastReport(p, buffer.Length, &code);
        return System.Text.Encoding.UTF8.GetString(buffer, 0, length);
    }

    private sealed class Exports
    {
        public required delegate* unmanaged<byte*> Describe;
        public required delegate* unmanaged<byte*, int, CuResult*, int> LastReport;
    }

    private static Exports? Find()
    {
        NativeLibraries.EnsureRegistered();
        if (!NativeLibraries.Cuda.TryLoad(out var library))
            return null;
        if (!NativeLibrary.TryGetExport(library, "coarStandInDescribe", out var describe) ||
            !NativeLibrary.TryGetExport(library, "coarStandInLastReport", out var lastReport))
            return null;
        return new Exports
        {
            Describe = (delegate* unmanaged<byte*>)describe,
            LastReport = (delegate* unmanaged<byte*, int, CuResult*, int>)lastReport,
        };
    }
}
