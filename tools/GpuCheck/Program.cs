using System.Diagnostics;
using System.Globalization;
using CoAR.Engine.Conformance;
using CoAR.Engine.Graph.Benchmarks;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Conformance;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Tools;

namespace CoAR.Engine.GpuCheck;

/// <summary>
/// GPU verification in one run: device and NVRTC facts, every kernel compiled for the device, the conformance suite
/// against the CPU backend, the tiny model's logits and generation on CUDA vs CPU, and throughput at the real 7B shape
/// with synthetic weights. Writes report.md into the output directory; exit code 1 when anything failed.
/// Usage: coar-gpu-check OUT_DIR [--quick] [--no-bench] [--filter TEXT]
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith('-'))
        {
            Console.Error.WriteLine("usage: coar-gpu-check OUT_DIR [--quick] [--no-bench] [--filter TEXT]");
            return 2;
        }
        string outDir = args[0];
        bool quick = args.Contains("--quick"), noBench = args.Contains("--no-bench");
        int f = Array.IndexOf(args, "--filter");
        string? filter = f >= 0 && f + 1 < args.Length ? args[f + 1] : null;
        Directory.CreateDirectory(outDir);
        var report = new Report();
        report.Line($"# GPU check, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        try
        {
            if (!Environment(report)) return Finish(report, outDir);
            Kernels(report);
            var selection = BackendFactory.Open("cuda");
            using var cuda = selection.Backend;
            using var cpu = new CpuBackend();
            SelfTest(report, selection);
            Conformance(report, cuda, cpu, filter);
            TinyModel(report, cuda, cpu, outDir);
            Peer(report, cpu, outDir);
            if (!noBench) Bench(report, cuda, quick);
        }
        catch (Exception e)
        {
            report.Fail($"the check stopped: {e}");
        }
        return Finish(report, outDir);
    }

    private static int Finish(Report report, string outDir)
    {
        report.Line("");
        report.Line(report.Failures == 0 ? "All checks passed." : $"{report.Failures} check(s) failed.");
        AtomicFile.WriteAllText(Path.Combine(outDir, "report.md"), report.Markdown);
        return report.Failures == 0 ? 0 : 1;
    }

    private static bool Environment(Report report)
    {
        report.Heading("Device");
        if (!CudaDriver.TryLoad(out string reason))
        {
            report.Fail($"no CUDA driver: {reason}");
            return false;
        }
        report.Line($"CUDA driver {CudaDriver.FormatVersion(CudaDriver.Version)} ({CudaDriver.LibraryPath}), {CudaDriver.DeviceCount} device(s)");
        if (CudaDriver.DeviceCount == 0)
        {
            report.Fail("the driver sees no GPU");
            return false;
        }
        var d = CudaDeviceInfo.Query(0);
        report.Line($"device 0: {d.Name}, compute capability {d.ComputeCapability}, {d.MultiprocessorCount} SMs, " +
                    $"{d.TotalMemoryBytes / (1L << 30)} GiB, peak bandwidth {d.PeakMemoryBandwidthBytesPerSecond / 1e9:F0} GB/s");
        if (!Nvrtc.TryLoad(out string nvrtcReason))
        {
            report.Fail($"no NVRTC: {nvrtcReason}");
            return false;
        }
        report.Line($"NVRTC {Nvrtc.Version} ({Nvrtc.LibraryPath})");
        return true;
    }

    private static void Kernels(Report report)
    {
        report.Heading("Kernels (NVRTC, the device's architecture)");
        var compiler = new KernelCompiler();
        var arch = CudaDeviceInfo.Query(0).ComputeCapability;
        var rows = new List<IReadOnlyList<string>>();
        foreach (var file in KernelSourceSet.Embedded.KernelFiles)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var k = compiler.Compile(file, arch);
                rows.Add([file, "ok", $"{clock.Elapsed.TotalSeconds:F1} s", k.Log.Contains("warning") ? "warnings" : ""]);
            }
            catch (KernelCompileException e)
            {
                report.Fail($"{file}: {e.Message}");
                rows.Add([file, "FAIL", "", ""]);
            }
        }
        report.Table(["file", "compile", "time", "log"], rows);
    }

    /// <summary>The self-test `--device auto` relies on, as it ran (or was kept) for this device.</summary>
    private static void SelfTest(Report report, BackendSelection selection)
    {
        report.Heading("Self-test (what --device auto relies on)");
        if (selection.SelfTest is not { } result)
        {
            report.Fail("no self-test result");
            return;
        }
        report.Line($"{(selection.SelfTestRanNow ? "ran now" : "kept from an earlier run")}: {result.Summary}");
        if (!result.Passed)
            report.Fail($"{selection.Backend.Name} failed its self-test: --device auto would not use it");
        report.Table(["check", "result", "detail"], result.Checks.Select(c => (IReadOnlyList<string>)[c.Name, c.Passed ? "ok" : "FAIL", c.Detail]).ToList());
    }

    private static void Conformance(Report report, IBackend cuda, IBackend cpu, string? filter)
    {
        report.Heading($"Conformance ({cuda.Name} vs cpu)");
        var rows = new List<IReadOnlyList<string>>();
        foreach (var c in ConformanceSuite.AllCases())
        {
            if (filter is not null && !c.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)) continue;
            var r = ConformanceRunner.Run(c, cuda, cpu);
            if (!r.Passed) report.Fail(r.ToString());
            rows.Add([c.Name, r.Passed ? "ok" : "FAIL", r.Error.ToString("E2", CultureInfo.InvariantCulture), r.Detail]);
        }
        report.Table(["case", "result", "worst", "detail"], rows);
    }

    private static void TinyModel(Report report, IBackend cuda, IBackend cpu, string outDir)
    {
        report.Heading("Tiny model on CUDA vs CPU");
        string dir = Path.Combine(outDir, "tiny-model");
        if (!Directory.Exists(dir)) CheckpointMaker.Write(dir, ModelShape.Tiny, WeightFill.Random, BuiltInModel.Seed);
        int[] tokens = [0, 9100, 9200, 9300, 8710, 8197, 8806, 8806, 4, 5, 6, 8803];
        using var onCpu = ChameleonModel.Load(dir, cpu);
        using var onCuda = ChameleonModel.Load(dir, cuda);
        float[] Logits(ChameleonModel m)
        {
            using var cache = m.CreateCache(1, tokens.Length);
            return TensorReader.ReadFloats(m.Backend, m.Forward(ForwardBatch.Single(tokens), cache));
        }
        var a = Logits(onCpu);
        var b = Logits(onCuda);
        double nmse = ConformanceRunner.Nmse(a, b);
        int argmaxA = Array.IndexOf(a, a.Max()), argmaxB = Array.IndexOf(b, b.Max());
        report.Line($"last-position logits: NMSE {nmse:E2}, argmax cpu {argmaxA} / cuda {argmaxB}");
        if (!(nmse < 1e-3)) report.Fail($"tiny model logits differ (NMSE {nmse:E2})");

        var request = new ImageTokenRequest(tokens[..5], ImageLayout.For(128, 128), 7, new SamplingSettings());
        var clock = Stopwatch.StartNew();
        var result = new ImageTokenGenerator(onCuda).Generate([request])[0];
        var layout = result.Layout;
        bool valid = result.Tokens.Length == layout.SequenceLength && result.Tokens[^2] == 8196 && result.Tokens[^1] == 8710;
        try
        {
            layout.Codes(result.Tokens);
        }
        catch (ArgumentException)
        {
            valid = false;
        }
        report.Line($"128x128 image on CUDA in {clock.Elapsed.TotalSeconds:F2} s: {(valid ? "structurally valid" : "INVALID")}");
        if (!valid) report.Fail("generated token sequence is not a valid image");
    }

    /// <summary>
    /// The verification ladder's last rung: the same tokens through Hugging Face transformers' Chameleon (PyTorch),
    /// on a tiny checkpoint in HF's qk-norm layout, against the engine's CPU logits. Skipped where python3 lacks
    /// torch and transformers.
    /// </summary>
    private static void Peer(Report report, IBackend cpu, string outDir)
    {
        report.Heading("Peer: transformers' Chameleon vs the engine (tiny checkpoint, fp32)");
        string script = Path.Combine(AppContext.BaseDirectory, "peer_logits.py");
        if (!RunProcess("python3", ["-c", "import torch, transformers"], out _))
        {
            report.Line("skipped: python3 with torch and transformers is not available here");
            return;
        }
        string dir = Path.Combine(outDir, "tiny-model-hf-layout");
        if (!Directory.Exists(dir)) CheckpointMaker.Write(dir, ModelShape.Tiny with { QkNormGroups = ModelShape.Tiny.Heads }, WeightFill.Random, 11);
        int[] tokens = [0, 9100, 9200, 9300, 9400, 8710, 8197, 8806, 8806, 4, 5, 6];
        using var model = ChameleonModel.Load(dir, cpu);
        using var cache = model.CreateCache(1, tokens.Length);
        string npy = Path.Combine(outDir, "engine_logits.npy");
        NpyFile.WriteFloat32(npy, TensorReader.ReadFloats(cpu, model.Forward(ForwardBatch.Single(tokens), cache)), model.Config.VocabSize);
        bool agree = RunProcess("python3", [script, dir, string.Join(",", tokens), npy], out string output);
        report.Line(output.Trim());
        if (!agree) report.Fail("the engine's logits differ from transformers' Chameleon");
    }

    private static bool RunProcess(string file, IReadOnlyList<string> args, out string output)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            output = e.Message;
            return false;
        }
    }

    private static void Bench(Report report, IBackend cuda, bool quick)
    {
        report.Heading("Throughput at the Lumina-mGPT 7B shape (synthetic bf16 weights)");
        var s = ModelShape.Lumina7B;
        var config = new ChameleonConfig
        {
            HiddenSize = s.Hidden, NumLayers = s.Layers, NumHeads = s.Heads, NumKvHeads = s.KvHeads, IntermediateSize = s.Intermediate, VocabSize = s.Vocab,
        };
        using var model = new ChameleonModel(config, ChameleonWeights.Synthetic(config, cuda, seed: 1), cuda);
        var rows = new List<IReadOnlyList<string>>();
        foreach (int batch in quick ? new[] { 1, 8 } : [1, 4, 16, 32])
        {
            var r = ThroughputBenchmark.Run(model, new ThroughputSettings(batch, PromptTokens: 64, Context: 1200, DecodeSteps: quick ? 8 : 32));
            rows.Add([batch.ToString(CultureInfo.InvariantCulture), $"{r.PrefillTokensPerSecond:N0}", $"{r.DecodeStepMilliseconds:F2}",
                $"{r.ImageTokensPerSecond:F1}", $"{r.ImagesPerSecond:F3}", $"{r.AchievedGigabytesPerSecond:F0}",
                r.BandwidthFraction is { } bw ? $"{100 * bw:F1}%" : "", $"{r.PeakMemoryBytes / (1L << 30)} GiB"]);
        }
        report.Table(["images", "prefill tok/s", "decode ms/step", "image tok/s", "images/s (768)", "GB/s", "of peak", "memory"], rows);
    }
}
