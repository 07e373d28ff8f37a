using System.Diagnostics;
using System.Runtime.InteropServices;
using NUnit.Framework;

namespace CoAR.Engine.Tests;

/// <summary>
/// Where no GPU is, the CUDA tests run on the CoAR CUDA stand-in (kernels/emulator/standin: the driver API on the CPU
/// emulator of the CUDA execution model): before any test, this builds it (a no-op when it is current) and points
/// COAR_LIBCUDA at it. A machine with a GPU keeps its driver; an explicit COAR_LIBCUDA is left alone.
/// </summary>
[SetUpFixture]
public sealed class CudaStandInSetup
{
    /// <summary>Why the stand-in could not be built, when it was needed and could not; CUDA tests fail with it.</summary>
    public static string? BuildFailure { get; private set; }

    /// <summary>The stand-in's library, when the tests run on it.</summary>
    public static string? Library { get; private set; }

    [OneTimeSetUp]
    public void UseTheStandInWithoutAGpu()
    {
        if (Environment.GetEnvironmentVariable("COAR_LIBCUDA") is { Length: > 0 } chosen)
        {
            if (chosen.Contains("cuda-standin", StringComparison.Ordinal))
                Library = chosen;
            return;
        }
        if (RealGpuPresent())
            return;
        try
        {
            Library = Build();
            Environment.SetEnvironmentVariable("COAR_LIBCUDA", Library);
            TestContext.Progress.WriteLine($"No GPU here: the CUDA tests run on the CoAR CUDA stand-in ({Library}), a CPU emulation, not a GPU.");
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            BuildFailure = $"the CoAR CUDA stand-in could not be built: {e.Message}";
        }
    }

    /// <summary>The repository's kernels/emulator/standin/build.sh; returns the library it printed.</summary>
    private static string Build()
    {
        var script = Path.Combine(RepoRoot.Path, "kernels", "emulator", "standin", "build.sh");
        var start = new ProcessStartInfo("bash", [script, "--quiet"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{script} failed (exit {process.ExitCode}): {error.Result}{output}");
        var library = output.Trim().Split('\n')[^1].Trim();
        return File.Exists(library) ? library : throw new InvalidOperationException($"{script} printed no library: {output}");
    }

    /// <summary>True when the system's libcuda loads, initialises and sees a device (checked without the engine's probe,
    /// which keeps its first answer for the whole process).</summary>
    private static unsafe bool RealGpuPresent()
    {
        if (!NativeLibrary.TryLoad("libcuda.so.1", out var library))
            return false;
        try
        {
            if (!NativeLibrary.TryGetExport(library, "cuInit", out var init) ||
                !NativeLibrary.TryGetExport(library, "cuDeviceGetCount", out var getCount))
                return false;
            if (((delegate* unmanaged<uint, int>)init)(0) != 0)
                return false;
            int count = 0;
            return ((delegate* unmanaged<int*, int>)getCount)(&count) == 0 && count > 0;
        }
        finally
        {
            NativeLibrary.Free(library);
        }
    }
}
