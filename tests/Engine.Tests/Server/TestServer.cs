using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Server;
using static CoAR.Engine.Tests.Generation.GenerationEngine;

namespace CoAR.Engine.Tests.Server;

/// <summary>
/// A real <see cref="CoarServer"/> on the tiny model, listening on an ephemeral loopback port, and an HttpClient
/// for it. Every request and wait is bounded in time.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private TestServer(CoarServer server, HttpClient client)
    {
        Server = server;
        Client = client;
    }

    public CoarServer Server { get; }
    public HttpClient Client { get; }

    public static async Task<TestServer> StartAsync(ServerOptions? options = null)
    {
        options ??= new ServerOptions();
        options = options with
        {
            Host = "127.0.0.1", Port = 0, MaxWidth = Math.Min(options.MaxWidth, 256), MaxHeight = Math.Min(options.MaxHeight, 256),
            DefaultWidth = 64, DefaultHeight = 64, MaxPromptTokens = 64, MaxBatch = Math.Min(options.MaxBatch, 4),
        };
        var server = await CoarServer.StartAsync(Coar, options);
        if (!System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(server.Address.Host)))
            throw new InvalidOperationException($"the test server must listen on loopback, not {server.Address}");
        return new TestServer(server, new HttpClient { BaseAddress = server.Address, Timeout = Limit });
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static string Body(string prompt, ulong seed, int w = 64, int h = 64, int n = 1, bool stream = false, string extra = "") =>
        JsonSerializer.Serialize(new { prompt, seed, size = $"{w}x{h}", n, stream }).TrimEnd('}') + extra + "}";

    public Task<HttpResponseMessage> Generate(string body, CancellationToken cancellation = default, string? apiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/images/generations") { Content = Json(body) };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
    }

    /// <summary>The tokens a single request for this image gets when run alone.</summary>
    public static int[] AloneTokens(string prompt, ulong seed, int w = 64, int h = 64) =>
        Coar.Generate([new ImagePrompt(prompt, w, h, seed, new SamplingSettings())])[0].Tokens;

    public static int[] Tokens(JsonElement image) =>
        image.GetProperty("metadata").GetProperty("image_tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>Reads server-sent events until <paramref name="stop"/> says so or the stream ends.</summary>
    public static async Task<List<(string Event, JsonElement Data)>> ReadEvents(HttpResponseMessage response, Func<string, JsonElement, bool>? stop = null,
        CancellationToken cancellation = default)
    {
        var events = new List<(string, JsonElement)>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation));
        string? name = null;
        while (await reader.ReadLineAsync(cancellation) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                var data = JsonDocument.Parse(line[6..]).RootElement.Clone();
                events.Add((name!, data));
                if (stop?.Invoke(name!, data) == true) break;
            }
        }
        return events;
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test after <see cref="Limit"/>.</summary>
    public static async Task WaitUntil(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) NUnit.Framework.Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    public async Task<string> Metrics() => await Client.GetStringAsync("metrics");

    /// <summary>A sample of /metrics, e.g. Metric(text, "coar_active_rows").</summary>
    public static double Metric(string metrics, string series) =>
        double.Parse(metrics.Split('\n').First(l => l.StartsWith(series + " ", StringComparison.Ordinal))[(series.Length + 1)..],
            System.Globalization.CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
    }
}
