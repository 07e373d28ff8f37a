using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CoAR.Engine.Server;

/// <summary>
/// Closed-loop load on an image server: <c>clients</c> clients, each sending its next request (one image, its own
/// seed) as soon as the previous one is answered, until <c>requests</c> requests are answered. Measures images per
/// second over the whole run and the latency of each request.
/// </summary>
public static class ServeBenchmark
{
    public static async Task<LoadResult> RunAsync(HttpClient client, int clients, int requests, int width, int height,
        ulong firstSeed, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(requests, 1);
        int next = 0, failed = 0;
        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next) - 1;
                if (i >= requests) return;
                long start = Stopwatch.GetTimestamp();
                bool ok = await GenerateAsync(client, $"a photo of a red apple, number {i}", firstSeed + (ulong)i, width, height, cancellation);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                lock (latencies) latencies.Add(seconds);
                if (!ok) Interlocked.Increment(ref failed);
            }
        }));
        double total = clock.Elapsed.TotalSeconds;
        latencies.Sort();
        return new LoadResult(clients, requests, failed, total, (requests - failed) / total, Percentile(latencies, 0.5), Percentile(latencies, 0.95));
    }

    /// <summary>One request; true when the server answered 200 with an image.</summary>
    public static async Task<bool> GenerateAsync(HttpClient client, string prompt, ulong seed, int width, int height, CancellationToken cancellation)
    {
        var body = JsonSerializer.Serialize(new { prompt, seed, size = $"{width}x{height}" });
        using var content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        using var response = await client.PostAsync("v1/images/generations", content, cancellation);
        if (!response.IsSuccessStatusCode) return false;
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStreamAsync(cancellation));
        return doc.RootElement.GetProperty("data")[0].GetProperty("b64_json").GetString() is { Length: > 0 };
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

/// <summary>What a closed-loop run measured.</summary>
public sealed record LoadResult(int Clients, int Requests, int Failed, double Seconds, double ImagesPerSecond, double LatencyP50, double LatencyP95);
