using System.Diagnostics;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>End-to-end throughput of a model on its backend: prefill tokens/s, decode step time, image tokens/s, images/s, GB/s.</summary>
public static class ThroughputBenchmark
{
    /// <param name="beforeTimedSteps">Called just before the timed decode steps (e.g. to start a profile).</param>
    public static ThroughputResult Run(ChameleonModel model, ThroughputSettings s, IProgress<string>? log = null, Action? beforeTimedSteps = null)
    {
        var b = model.Backend;
        var c = model.Config;
        int rows = s.Images * (s.Guided ? 2 : 1);
        int capacity = Math.Max(s.PromptTokens, s.Context) + s.DecodeSteps + s.Warmup + 1;
        var rng = new Random(1);
        int Token() => 4 + rng.Next(8192);

        using var cache = model.CreateCache(rows, capacity);
        // Prefill: one prompt per image (the unconditional rows' 3-token header is negligible and left out).
        var prompts = Enumerable.Range(0, s.Images).Select(_ => Enumerable.Range(0, s.PromptTokens).Select(_ => Token()).ToArray()).ToList();
        model.Forward(ForwardBatch.Packed(prompts), cache);
        b.Synchronize();
        var clock = Stopwatch.StartNew();
        model.Forward(ForwardBatch.Packed(prompts), cache);
        b.Synchronize();
        double prefill = clock.Elapsed.TotalSeconds;
        log?.Report($"prefill {s.Images} x {s.PromptTokens} tokens: {prefill * 1000:F1} ms");

        // Fill every row's cache up to the decode context.
        for (int start = 0; start < s.Context; start += 512)
        {
            int len = Math.Min(512, s.Context - start);
            var chunk = Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, len).Select(_ => Token()).ToArray()).ToList();
            model.Forward(ForwardBatch.Packed(chunk, Enumerable.Repeat(start, rows).ToList()), cache);
        }

        using var work = new Workspace(b);
        var sampled = work.Get("ids", DType.I32, s.Images);
        var rules = Upload(b, work.Get("rules", DType.I32, s.Images, 3), Enumerable.Range(0, s.Images).SelectMany(_ => new[] { -1, 4, 8196 }).ToArray());
        var topK = Upload(b, work.Get("top_k", DType.I32, s.Images), Enumerable.Repeat(2000, s.Images).ToArray());
        var temperature = work.Get("temperature", DType.F32, s.Images);
        b.Upload<float>(Enumerable.Repeat(1f, s.Images).ToArray(), temperature);
        var scales = work.Get("cfg", DType.F32, s.Images);
        b.Upload<float>(Enumerable.Repeat(4f, s.Images).ToArray(), scales);
        var keys = work.Get("keys", DType.I32, s.Images, 4);
        var ids = new int[s.Images];
        int position = s.Context;

        void Step()
        {
            var tokens = Enumerable.Range(0, rows).Select(r => new[] { ids[r % s.Images] }).ToList();
            var logits = model.Forward(ForwardBatch.Packed(tokens, Enumerable.Repeat(position, rows).ToList()), cache);
            var cond = logits.Rows(0, s.Images);
            if (s.Guided) b.CfgCombine(cond, logits.Rows(s.Images, s.Images), scales, cond);
            b.ConstrainLogits(cond, rules);
            b.Upload<int>(Enumerable.Range(0, s.Images).SelectMany(i => new[] { i, 0, position, 0 }).ToArray(), keys);
            b.SampleTopK(cond, topK, temperature, keys, sampled);
            b.Download<int>(sampled, ids);
            position++;
        }

        for (int i = 0; i < s.Warmup; i++) Step();
        b.Synchronize();
        beforeTimedSteps?.Invoke();
        clock.Restart();
        for (int i = 0; i < s.DecodeSteps; i++) Step();
        b.Synchronize();
        double step = clock.Elapsed.TotalSeconds / s.DecodeSteps;
        log?.Report($"decode: {s.DecodeSteps} steps of {rows} rows at context ~{position - s.DecodeSteps / 2}: {step * 1000:F2} ms/step");

        var layout = ImageLayout.For(s.Width, s.Height);
        long kvBytes = 2L * c.NumLayers * rows * (position - s.DecodeSteps / 2) * c.KvDim * b.ActivationType.SizeOf();
        long readBytes = model.Weights.Bytes + kvBytes;
        double gbps = readBytes / step / 1e9;
        double? deviceGbps = b.PeakBandwidthBytesPerSecond / 1e9;

        double? full = null;
        if (s.FullImage)
        {
            var generator = new ImageTokenGenerator(model);
            var requests = prompts.Select((p, i) => new ImageTokenRequest(p, layout, (ulong)i, new SamplingSettings(s.Guided ? 4f : 1f))).ToList();
            clock.Restart();
            generator.Generate(requests);
            b.Synchronize();
            full = clock.Elapsed.TotalSeconds;
            log?.Report($"{s.Images} full {s.Width}x{s.Height} image(s): {full:F2} s");
        }

        var (free, total) = b.MemoryInfo();
        long peak = b.Kind == BackendKind.Cpu ? Process.GetCurrentProcess().PeakWorkingSet64 : total - free;
        long parameters = ChameleonTensors.Expected(c).Sum(t => t.Shape.Aggregate(1L, (x, d) => x * Math.Max(d, 1)));
        return new ThroughputResult(b.Name, parameters, model.Weights.Bytes, s.Images, rows, s.PromptTokens, s.Context,
            prefill, s.Images * s.PromptTokens / prefill, step * 1000, s.Images / step,
            s.Images / (step * layout.BodyLength + prefill), readBytes / 1e9, gbps, deviceGbps, deviceGbps is { } d ? gbps / d : null, peak, full);
    }

    private static Tensor Upload(IBackend b, Tensor t, int[] values)
    {
        b.Upload<int>(values, t);
        return t;
    }
}
