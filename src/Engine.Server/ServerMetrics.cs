using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CoAR.Engine.Graph.Generation;

namespace CoAR.Engine.Server;

/// <summary>
/// GET /metrics in Prometheus' text format: requests by status, the latency of image requests (a histogram), the
/// scheduler's queue, active images and rows, tokens and images made (counters, and per second over the last ten
/// seconds as gauges), and memory (weights, KV cache, process).
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    private static readonly double[] LatencyBuckets = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
    private const int RateWindowSeconds = 10;

    private readonly GenerationScheduler _scheduler;
    private readonly long _weightBytes;
    private readonly ConcurrentDictionary<int, long> _requests = new();
    private readonly long[] _latencyCounts = new long[LatencyBuckets.Length + 1];
    private readonly object _gate = new();
    private readonly Queue<(long Timestamp, long Tokens, long Images)> _samples = new();
    private readonly Timer _sampler;
    private double _latencySum;
    private long _latencyCount;

    public ServerMetrics(GenerationScheduler scheduler, long weightBytes)
    {
        _scheduler = scheduler;
        _weightBytes = weightBytes;
        _sampler = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    /// <summary>Counts a finished request by its status; image requests also by their latency.</summary>
    public void Request(int status, double? imageSeconds)
    {
        _requests.AddOrUpdate(status, 1, (_, n) => n + 1);
        if (imageSeconds is not { } seconds) return;
        lock (_gate)
        {
            int bucket = 0;
            while (bucket < LatencyBuckets.Length && seconds > LatencyBuckets[bucket]) bucket++;
            _latencyCounts[bucket]++;
            _latencySum += seconds;
            _latencyCount++;
        }
    }

    /// <summary>Tokens and images per second over the last ten seconds.</summary>
    public (double Tokens, double Images) Rates()
    {
        lock (_gate)
        {
            if (_samples.Count < 2) return (0, 0);
            var first = _samples.Peek();
            var last = _samples.Last();
            double seconds = Stopwatch.GetElapsedTime(first.Timestamp, last.Timestamp).TotalSeconds;
            return seconds <= 0 ? (0, 0) : ((last.Tokens - first.Tokens) / seconds, (last.Images - first.Images) / seconds);
        }
    }

    private void Sample()
    {
        var s = _scheduler.Stats();
        lock (_gate)
        {
            _samples.Enqueue((Stopwatch.GetTimestamp(), s.TokensGenerated, s.ImagesCompleted));
            while (_samples.Count > RateWindowSeconds + 1) _samples.Dequeue();
        }
    }

    public string Render()
    {
        var s = _scheduler.Stats();
        var (tokensPerSecond, imagesPerSecond) = Rates();
        var text = new StringBuilder();
        Metric(text, "coar_queue_images", "gauge", "Images waiting for room in the batch.", s.QueuedImages);
        Metric(text, "coar_active_images", "gauge", "Images being generated.", s.ActiveImages);
        Metric(text, "coar_active_rows", "gauge", "KV-cache rows in use (a guided image takes two).", s.ActiveRows);
        Metric(text, "coar_kv_rows", "gauge", "KV-cache rows planned.", s.Rows);
        Metric(text, "coar_image_tokens_total", "counter", "Image tokens drawn.", s.TokensGenerated);
        Metric(text, "coar_decode_steps_total", "counter", "Forward passes of the running batch.", s.Steps);
        Header(text, "coar_images_total", "counter", "Images by outcome.");
        Line(text, "coar_images_total{outcome=\"completed\"}", s.ImagesCompleted);
        Line(text, "coar_images_total{outcome=\"failed\"}", s.ImagesFailed);
        Line(text, "coar_images_total{outcome=\"cancelled\"}", s.ImagesCancelled);
        Metric(text, "coar_image_tokens_per_second", "gauge", $"Image tokens drawn per second over the last {RateWindowSeconds} s.", tokensPerSecond);
        Metric(text, "coar_images_per_second", "gauge", $"Images completed per second over the last {RateWindowSeconds} s.", imagesPerSecond);
        Header(text, "coar_memory_bytes", "gauge", "Memory: model weights, KV cache, and the process's resident set.");
        Line(text, "coar_memory_bytes{kind=\"weights\"}", _weightBytes);
        Line(text, "coar_memory_bytes{kind=\"kv_cache\"}", s.KvCacheBytes);
        Line(text, "coar_memory_bytes{kind=\"process_resident\"}", Environment.WorkingSet);
        Header(text, "coar_http_requests_total", "counter", "HTTP requests by status code.");
        foreach (var (status, count) in _requests.OrderBy(kv => kv.Key))
            Line(text, $"coar_http_requests_total{{code=\"{status}\"}}", count);
        Header(text, "coar_request_duration_seconds", "histogram", "Latency of image requests, from arrival to the last byte of the answer.");
        lock (_gate)
        {
            long cumulative = 0;
            for (int i = 0; i < LatencyBuckets.Length; i++)
            {
                cumulative += _latencyCounts[i];
                Line(text, $"coar_request_duration_seconds_bucket{{le=\"{Format(LatencyBuckets[i])}\"}}", cumulative);
            }
            Line(text, "coar_request_duration_seconds_bucket{le=\"+Inf\"}", cumulative + _latencyCounts[^1]);
            Line(text, "coar_request_duration_seconds_sum", _latencySum);
            Line(text, "coar_request_duration_seconds_count", _latencyCount);
        }
        return text.ToString();
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value)
    {
        Header(text, name, type, help);
        Line(text, name, value);
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n').Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Line(StringBuilder text, string series, double value) =>
        text.Append(series).Append(' ').Append(Format(value)).Append('\n');

    private static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public void Dispose() => _sampler.Dispose();
}
