using System.CommandLine;
using System.Text.Json;
using CoAR.Engine.Managed.Cuda;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// `coar info`: the CUDA driver and every GPU, NVRTC, and the kernel cache; without a usable GPU it says why and that
/// the CPU backend will be used. Exits 0 either way: a machine without a GPU is a valid configuration.
/// </summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Write the report as JSON" };
        var command = new Command("info", "Show the CUDA driver, GPUs, NVRTC and the kernel cache");
        command.Options.Add(json);
        command.SetAction(parseResult =>
        {
            var report = Gather();
            var output = parseResult.InvocationConfiguration.Output;
            if (parseResult.GetValue(json))
                WriteJson(report, output);
            else
                WriteText(report, output);
            return 0;
        });
        return command;
    }

    private sealed record Device(CudaDeviceInfo Info, ulong? FreeBytes, string? Error);

    private sealed record Report(
        bool CudaAvailable, string CudaReason, string? DriverVersion, string? LibcudaPath, IReadOnlyList<Device> Devices,
        bool NvrtcAvailable, string NvrtcReason, string? NvrtcVersion, string? NvrtcPath, IReadOnlyList<string> NvrtcArchitectures,
        string CacheDirectory, int CacheFiles, long CacheBytes, string? FatbinDirectory)
    {
        public bool UsesCuda => CudaAvailable && Devices.Any(d => d.Error is null) && (NvrtcAvailable || FatbinDirectory is not null);

        public string BackendReason => !CudaAvailable ? CudaReason
            : Devices.Count == 0 ? "the CUDA driver sees no GPU"
            : Devices.All(d => d.Error is not null) ? "no GPU could be opened"
            : !NvrtcAvailable && FatbinDirectory is null ? $"kernels cannot be built: {NvrtcReason}"
            : $"GPU {Devices.First(d => d.Error is null).Info.Ordinal}";
    }

    private static Report Gather()
    {
        bool cuda = CudaDriver.TryLoad(out var cudaReason);
        var devices = new List<Device>();
        if (cuda)
        {
            try
            {
                for (int i = 0; i < CudaDriver.DeviceCount; i++)
                    devices.Add(QueryDevice(i));
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
            cache.Directory, files, bytes, options.FatbinDirectory);
    }

    /// <summary>Free memory needs a context; a device that cannot be opened is reported, not fatal.</summary>
    private static Device QueryDevice(int ordinal)
    {
        var info = CudaDeviceInfo.Query(ordinal);
        try
        {
            using var context = CudaContext.Create(ordinal);
            return new Device(info, context.MemoryInfo().Free, null);
        }
        catch (CudaException e)
        {
            return new Device(info, null, e.Message);
        }
    }

    private static void WriteText(Report report, TextWriter output)
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
        }
        Row("NVRTC", report.NvrtcAvailable
            ? $"{report.NvrtcVersion} ({report.NvrtcPath}), targets {Range(report.NvrtcArchitectures)}"
            : "not available: kernels cannot be compiled");
        Row("Kernel cache", $"{report.CacheDirectory}: {report.CacheFiles} files, {ByteSize.Format(report.CacheBytes)}");
        if (report.FatbinDirectory is not null)
            Row("Kernel fatbins", $"{report.FatbinDirectory} (COAR_KERNEL_FATBIN: prebuilt kernels are loaded instead of NVRTC)");
        Row("Backend", report.UsesCuda ? $"CUDA ({report.BackendReason})" : "CPU: no usable CUDA GPU, the CPU backend will be used");
        console.Write(grid);

        if (!report.UsesCuda)
            console.WriteLine($"{Environment.NewLine}Why no GPU: {report.BackendReason}", Style.Plain);
        if (!report.NvrtcAvailable)
            console.WriteLine($"{Environment.NewLine}Why no NVRTC: {report.NvrtcReason}", Style.Plain);
    }

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

            json.WriteString("backend", report.UsesCuda ? "cuda" : "cpu");
            json.WriteString("backendReason", report.BackendReason);
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static string Range(IReadOnlyList<string> architectures) => architectures.Count switch
    {
        0 => "(not listed by this NVRTC)",
        1 => architectures[0],
        _ => $"{architectures[0]} to {architectures[^1]}",
    };
}
