using System.CommandLine;
using System.Text.Json;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Managed.Backends.SelfTest;
using CoAR.Engine.Managed.Cuda;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// `coar info`: the CUDA driver and every GPU with its self-test (kept from the GPU's first use, or run now with
/// --self-test), NVRTC, and the kernel cache; without a usable GPU it says why and that the CPU backend will be used.
/// Exits 0 either way (a machine without a GPU is a valid configuration), except that --self-test exits 4 when a GPU
/// fails it or there is none to test.
/// </summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Write the report as JSON" };
        var selfTest = new Option<bool>("--self-test")
        {
            Description = "Run every GPU's self-test now (its kernels compile, conformance cases match the CPU) and keep the result; " +
                "exits 4 when a GPU fails it or there is none to test",
        };
        var command = new Command("info", "Show the CUDA driver, GPUs and their self-tests, NVRTC and the kernel cache");
        command.Options.Add(json);
        command.Options.Add(selfTest);
        command.SetAction(parseResult =>
        {
            bool runSelfTests = parseResult.GetValue(selfTest);
            var report = Gather(runSelfTests);
            var output = parseResult.InvocationConfiguration.Output;
            if (parseResult.GetValue(json))
                WriteJson(report, output);
            else
                WriteText(report, output, runSelfTests);
            if (!runSelfTests || report.SelfTestsPassed)
                return ExitCodes.Ok;
            CliErrors.Json = parseResult.GetValue(json);
            CliErrors.Write(ExitCodes.DeviceUnavailable, report.SelfTestFailure);
            return ExitCodes.DeviceUnavailable;
        });
        return command;
    }

    /// <summary>A GPU, its free memory (or why it could not be opened), and its self-test (kept, run now, or never run).</summary>
    private sealed record Device(CudaDeviceInfo Info, ulong? FreeBytes, string? Error, SelfTestResult? SelfTest = null,
        string? SelfTestFile = null, string? SelfTestKeepError = null);

    private sealed record Report(
        bool CudaAvailable, string CudaReason, string? DriverVersion, string? LibcudaPath, IReadOnlyList<Device> Devices,
        bool NvrtcAvailable, string NvrtcReason, string? NvrtcVersion, string? NvrtcPath, IReadOnlyList<string> NvrtcArchitectures,
        string CacheDirectory, int CacheFiles, long CacheBytes, string? FatbinDirectory, string SelfTestDirectory, string? NotAGpu)
    {
        private bool KernelsBuild => NvrtcAvailable || FatbinDirectory is not null;

        /// <summary>What `--device auto` does: device 0 when it opens, kernels can be built, and it has not failed its self-test.</summary>
        public bool UsesCuda => CudaAvailable && NotAGpu is null && Devices.Count > 0 && Devices[0].Error is null && KernelsBuild
            && Devices[0].SelfTest is not { Passed: false };

        public string BackendReason => !CudaAvailable ? CudaReason
            : NotAGpu is not null ? $"{NotAGpu}: auto uses only a GPU (--device cuda runs on it)"
            : Devices.Count == 0 ? "the CUDA driver sees no GPU"
            : Devices[0].Error is not null ? $"GPU 0 could not be opened: {Devices[0].Error}"
            : !KernelsBuild ? $"kernels cannot be built: {NvrtcReason}"
            : Devices[0].SelfTest is { Passed: false } failed ? $"GPU 0 failed its self-test ({failed.Summary})"
            : Devices[0].SelfTest is null ? "GPU 0, once its self-test passes on first use"
            : "GPU 0, its self-test passed";

        /// <summary>Why --self-test did not pass: the GPUs that failed or could not be opened, or that there was none to test.</summary>
        public string SelfTestFailure
        {
            get
            {
                var failed = Devices.Where(d => d.Error is not null || d.SelfTest is { Passed: false })
                    .Select(d => d.Error is not null ? $"GPU {d.Info.Ordinal} could not be opened" : $"GPU {d.Info.Ordinal} failed its self-test ({d.SelfTest!.Summary})")
                    .ToList();
                return failed.Count > 0 ? string.Join("; ", failed) : $"no GPU to self-test: {BackendReason.Split('\n')[0]}";
            }
        }

        /// <summary>True when there was a GPU to test and every tested GPU passed.</summary>
        public bool SelfTestsPassed => Devices.Any(d => d.SelfTest is not null) && Devices.All(d => d.SelfTest is null or { Passed: true })
            && Devices.All(d => d.Error is null);
    }

    private static Report Gather(bool runSelfTests)
    {
        bool cuda = CudaDriver.TryLoad(out var cudaReason);
        var devices = new List<Device>();
        if (cuda)
        {
            try
            {
                for (int i = 0; i < CudaDriver.DeviceCount; i++)
                    devices.Add(runSelfTests ? TestDevice(i) : QueryDevice(i));
            }
            catch (CudaException e)
            {
                cuda = false;
                cudaReason = $"the driver loaded but could not list its GPUs: {e.Message}";
            }
        }
        bool nvrtc = Nvrtc.TryLoad(out var nvrtcReason);
        var options = KernelCompilerOptions.FromEnvironment();
        var cache = new KernelCache(options.CacheDirectory!);
        var (files, bytes) = cache.Usage();
        return new Report(
            cuda, cudaReason, cuda ? CudaDriver.FormatVersion(CudaDriver.Version) : null, CudaDriver.LibraryPath, devices,
            nvrtc, nvrtcReason, nvrtc ? Nvrtc.Version.ToString() : null, Nvrtc.LibraryPath,
            nvrtc ? Nvrtc.SupportedArchitectures.Select(a => a.SmName).ToList() : [],
            cache.Directory, files, bytes, options.FatbinDirectory, SelfTestCache.Default().Directory, cuda ? BackendFactory.CudaNotAGpu : null);
    }

    /// <summary>Free memory needs a context; a device that cannot be opened is reported, not fatal. Its kept self-test, if any.</summary>
    private static Device QueryDevice(int ordinal)
    {
        var info = CudaDeviceInfo.Query(ordinal);
        var options = KernelCompilerOptions.FromEnvironment();
        var cache = SelfTestCache.Default();
        // Without NVRTC (and no prebuilt fatbins) the identity has no compiler, and no self-test can have run.
        var kept = options.FatbinDirectory is not null || Nvrtc.TryLoad(out _) ? cache.TryLoad(CudaBackend.IdentityOf(info, options)) : null;
        string? file = kept is null ? null : cache.PathFor(kept.Identity);
        try
        {
            using var context = CudaContext.Create(ordinal);
            return new Device(info, context.MemoryInfo().Free, null, kept, file);
        }
        catch (CudaException e)
        {
            return new Device(info, null, e.Message, kept, file);
        }
    }

    /// <summary>Opens the device as the CUDA backend and runs its self-test now, keeping the result.</summary>
    private static Device TestDevice(int ordinal)
    {
        var info = CudaDeviceInfo.Query(ordinal);
        try
        {
            using var backend = CudaBackend.Create(ordinal);
            var cache = SelfTestCache.Default();
            var result = BackendFactory.RunSelfTest(backend, cache, out var keepError);
            return new Device(info, (ulong)backend.MemoryInfo().Free, null, result, cache.PathFor(result.Identity), keepError);
        }
        catch (Exception e) when (e is CudaException or DeviceUnavailableException)
        {
            return new Device(info, null, e.Message);
        }
    }

    private static void WriteText(Report report, TextWriter output, bool ranSelfTests)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
        });
        console.Profile.Width = Math.Max(console.Profile.Width, 120);
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string name, string value) => grid.AddRow(new Markup($"[bold]{name}[/]"), new Text(value));

        Row("CUDA driver", report.CudaAvailable ? $"{report.DriverVersion} ({report.LibcudaPath})" : "not available");
        foreach (var device in report.Devices)
        {
            var d = device.Info;
            var memory = device.FreeBytes is { } free
                ? $"{ByteSize.Format(d.TotalMemoryBytes)} total, {ByteSize.Format(free)} free"
                : $"{ByteSize.Format(d.TotalMemoryBytes)} total; could not be opened: {device.Error}";
            Row($"GPU {d.Ordinal}",
                $"{d.Name}: compute capability {d.ComputeCapability}, {d.MultiprocessorCount} SMs, {memory}, " +
                $"L2 {ByteSize.Format(d.L2CacheBytes)}, shared memory per block up to {ByteSize.Format(d.MaxSharedMemoryPerBlockOptin)}" +
                (d.PeakMemoryBandwidthBytesPerSecond > 0 ? $", peak bandwidth {d.PeakMemoryBandwidthBytesPerSecond / 1e9:0} GB/s" : ""));
            Row($"GPU {d.Ordinal} self-test", SelfTestLine(device));
        }
        Row("NVRTC", report.NvrtcAvailable
            ? $"{report.NvrtcVersion} ({report.NvrtcPath}), targets {Range(report.NvrtcArchitectures)}"
            : "not available: kernels cannot be compiled");
        Row("Kernel cache", $"{report.CacheDirectory}: {report.CacheFiles} files, {ByteSize.Format(report.CacheBytes)}");
        if (report.FatbinDirectory is not null)
            Row("Kernel fatbins", $"{report.FatbinDirectory} (COAR_KERNEL_FATBIN: prebuilt kernels are loaded instead of NVRTC)");
        Row("Backend", report.UsesCuda ? $"CUDA ({report.BackendReason})" : "CPU: no usable CUDA GPU, the CPU backend will be used by --device auto");
        console.Write(grid);

        foreach (var device in report.Devices.Where(d => d.SelfTest is { } t && (ranSelfTests || !t.Passed)))
        {
            var result = device.SelfTest!;
            console.WriteLine($"{Environment.NewLine}Self-test of GPU {device.Info.Ordinal} ({result.Identity}), " +
                $"{Format.Timestamp(result.RanAt)}, {result.Seconds:0.0} s:", Style.Plain);
            foreach (var check in result.Checks)
                console.WriteLine($"  {check}", Style.Plain);
            if (device.SelfTestKeepError is { } keepError)
                console.WriteLine($"  note: {keepError}", Style.Plain);
        }
        if (ranSelfTests && report.Devices.All(d => d.SelfTest is null))
            console.WriteLine($"{Environment.NewLine}Self-test: no GPU to test{(report.UsesCuda ? "" : " (why: below)")}", Style.Plain);
        if (!report.UsesCuda)
            console.WriteLine($"{Environment.NewLine}Why no GPU: {report.BackendReason}", Style.Plain);
        if (!report.NvrtcAvailable)
            console.WriteLine($"{Environment.NewLine}Why no NVRTC: {report.NvrtcReason}", Style.Plain);
    }

    /// <summary>The kept verdict in one line, or that there is none yet.</summary>
    private static string SelfTestLine(Device device) => device.SelfTest switch
    {
        { Passed: true } t => $"{t.Summary}, {Format.Timestamp(t.RanAt)} ({device.SelfTestFile})",
        { } t => $"FAILED, {Format.Timestamp(t.RanAt)}: {t.Summary} ({device.SelfTestFile}); `--device auto` does not use this GPU",
        null when device.Error is not null => "cannot run: the GPU could not be opened",
        null => "not run yet: it runs on the GPU's first use (`coar info --self-test` runs it now)",
    };

    private static void WriteJson(Report report, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("cuda");
            json.WriteBoolean("available", report.CudaAvailable);
            json.WriteString("reason", report.CudaReason);
            json.WriteString("driverVersion", report.DriverVersion);
            json.WriteString("library", report.LibcudaPath);
            json.WriteStartArray("devices");
            foreach (var device in report.Devices)
            {
                var d = device.Info;
                json.WriteStartObject();
                json.WriteNumber("ordinal", d.Ordinal);
                json.WriteString("name", d.Name);
                json.WriteString("computeCapability", d.ComputeCapability.ToString());
                json.WriteNumber("multiprocessors", d.MultiprocessorCount);
                json.WriteNumber("totalMemoryBytes", d.TotalMemoryBytes);
                if (device.FreeBytes is { } free)
                    json.WriteNumber("freeMemoryBytes", free);
                else
                    json.WriteNull("freeMemoryBytes");
                json.WriteNumber("maxSharedMemoryPerBlockOptin", d.MaxSharedMemoryPerBlockOptin);
                json.WriteNumber("l2CacheBytes", d.L2CacheBytes);
                json.WriteNumber("memoryBusWidthBits", d.MemoryBusWidthBits);
                json.WriteNumber("memoryClockKHz", d.MemoryClockKHz);
                json.WriteString("error", device.Error);
                WriteSelfTest(json, device);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteStartObject("nvrtc");
            json.WriteBoolean("available", report.NvrtcAvailable);
            json.WriteString("reason", report.NvrtcReason);
            json.WriteString("version", report.NvrtcVersion);
            json.WriteString("library", report.NvrtcPath);
            json.WriteStartArray("architectures");
            foreach (var architecture in report.NvrtcArchitectures)
                json.WriteStringValue(architecture);
            json.WriteEndArray();
            json.WriteEndObject();

            json.WriteStartObject("kernelCache");
            json.WriteString("directory", report.CacheDirectory);
            json.WriteNumber("files", report.CacheFiles);
            json.WriteNumber("bytes", report.CacheBytes);
            json.WriteString("fatbinDirectory", report.FatbinDirectory);
            json.WriteEndObject();

            json.WriteString("selfTestDirectory", report.SelfTestDirectory);
            json.WriteString("backend", report.UsesCuda ? "cuda" : "cpu");
            json.WriteString("backendReason", report.BackendReason);
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteSelfTest(Utf8JsonWriter json, Device device)
    {
        if (device.SelfTest is not { } result)
        {
            json.WriteNull("selfTest");
            return;
        }
        json.WriteStartObject("selfTest");
        json.WriteString("summary", result.Summary);
        json.WriteString("file", device.SelfTestFile);
        json.WriteString("keepError", device.SelfTestKeepError);
        SelfTestCache.WriteProperties(json, result);
        json.WriteEndObject();
    }

    private static string Range(IReadOnlyList<string> architectures) => architectures.Count switch
    {
        0 => "(not listed by this NVRTC)",
        1 => architectures[0],
        _ => $"{architectures[0]} to {architectures[^1]}",
    };
}
