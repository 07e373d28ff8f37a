using System.Net;
using System.Text.Json;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Server;
using NUnit.Framework;
using static CoAR.Engine.Tests.Server.TestServer;

namespace CoAR.Engine.Tests.Server;

/// <summary>
/// `coar serve`'s HTTP API against a real server on an ephemeral loopback port, with the tiny model on the CPU at
/// 32 to 96 pixels: concurrent clients, streaming, limits, cancellation, authentication, draining.
/// </summary>
public class ServerTests
{
    private static async Task<JsonElement> JsonOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    [Test]
    public async Task ConcurrentClientsGetWhatASingleRequestGets()
    {
        await using var server = await StartAsync();
        var asks = new[] { ("a red apple", 1UL, 64, 64, 1), ("a blue bird", 2UL, 32, 64, 2), ("a tree", 3UL, 96, 64, 1), ("a boat", 4UL, 64, 32, 1), ("a red apple", 9UL, 32, 32, 2) };
        var responses = await Task.WhenAll(asks.Select(async (a, i) =>
        {
            await Task.Delay(10 * i);
            return await server.Generate(Body(a.Item1, a.Item2, a.Item3, a.Item4, a.Item5));
        }));
        for (int i = 0; i < asks.Length; i++)
        {
            var (prompt, seed, w, h, n) = asks[i];
            Assert.That(responses[i].StatusCode, Is.EqualTo(HttpStatusCode.OK), await responses[i].Content.ReadAsStringAsync());
            var data = (await JsonOf(responses[i])).GetProperty("data");
            Assert.That(data.GetArrayLength(), Is.EqualTo(n));
            for (int k = 0; k < n; k++)
            {
                var image = data[k];
                var alone = Generation.GenerationEngine.Coar.Generate([new Graph.Generation.ImagePrompt(prompt, w, h, seed + (ulong)k, new())])[0];
                Assert.That(Tokens(image), Is.EqualTo(alone.Tokens), $"request {i} image {k}: tokens");
                var png = Convert.FromBase64String(image.GetProperty("b64_json").GetString()!);
                Assert.That(png, Is.EqualTo(ImageFile.EncodePng(alone.Image)), $"request {i} image {k}: PNG");
                var meta = image.GetProperty("metadata");
                Assert.That(meta.GetProperty("seed").GetUInt64(), Is.EqualTo(seed + (ulong)k));
                Assert.That((meta.GetProperty("width").GetInt32(), meta.GetProperty("height").GetInt32()), Is.EqualTo((w, h)));
                Assert.That(meta.GetProperty("model_fingerprint").GetString(), Is.EqualTo(Generation.GenerationEngine.Coar.Fingerprint));
            }
        }
        string metrics = await server.Metrics();
        Assert.That(Metric(metrics, "coar_images_total{outcome=\"completed\"}"), Is.EqualTo(7));
        Assert.That(Metric(metrics, "coar_request_duration_seconds_count"), Is.EqualTo(5));
        Assert.That(Metric(metrics, "coar_http_requests_total{code=\"200\"}"), Is.GreaterThanOrEqualTo(5));
        Assert.That(metrics, Does.Contain("# TYPE coar_request_duration_seconds histogram").And.Contain("coar_memory_bytes{kind=\"kv_cache\"}"));
    }

    [Test]
    public async Task AStreamReportsProgressThenTheImage()
    {
        await using var server = await StartAsync();
        using var response = await server.Generate(Body("a red apple", 5, 64, 96, stream: true));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/event-stream"));
        var events = await ReadEvents(response);
        Assert.That(events.Select(e => e.Event).Distinct(), Is.EqualTo(new[] { "image_generation.progress", "image_generation.completed", "done" }));
        var progress = events.Where(e => e.Event == "image_generation.progress").Select(e => e.Data.GetProperty("tokens_done").GetInt32()).ToList();
        Assert.That(progress, Is.Ordered.And.Count.GreaterThan(3));
        Assert.That(events.Single(e => e.Event == "image_generation.completed").Data.GetProperty("index").GetInt32(), Is.Zero);
        Assert.That(Tokens(events.Single(e => e.Event == "image_generation.completed").Data), Is.EqualTo(AloneTokens("a red apple", 5, 64, 96)));
    }

    [Test]
    public async Task AFullQueueIsAnswered429WithRetryAfter()
    {
        await using var server = await StartAsync(new ServerOptions { MaxBatch = 1, MaxQueuedImages = 2 });
        using var cts = new CancellationTokenSource(Limit);
        // One image runs (streaming, so we know when), two wait, the next finds the queue full.
        using var running = await server.Generate(Body("a red apple", 1, 256, 256, stream: true), cts.Token);
        await ReadEvents(running, (e, _) => e == "image_generation.progress", cts.Token);
        var waiting = new[] { server.Generate(Body("a blue bird", 2, 96, 96), cts.Token), server.Generate(Body("a tree", 3, 96, 96), cts.Token) };
        await WaitUntil(async () => Metric(await server.Metrics(), "coar_queue_images") == 2, "two images wait");
        using var refused = await server.Generate(Body("a boat", 4), cts.Token);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
        Assert.That(refused.Headers.RetryAfter?.Delta, Is.Not.Null.And.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)));
        var error = (await JsonOf(refused)).GetProperty("error");
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("rate_limit_error"));
        using var tooMany = await server.Generate(Body("a boat", 4, n: 3), cts.Token);
        Assert.That(tooMany.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests), "three images never fit a queue of two");
        foreach (var w in await Task.WhenAll(waiting))
            Assert.That(w.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the accepted requests are answered");
    }

    [Test]
    public async Task AClientThatDisconnectsCancelsItsImagesAndFreesTheirRows()
    {
        await using var server = await StartAsync();
        // Eight images on a batch of four: when the client goes, at its first progress event, half of them cannot have
        // started, whatever the machine's speed (a 256x256 image of the tiny model takes well under a second, so a
        // test that waits to see them run races them).
        using (var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.Server.Address, Timeout = Limit })
        using (var cts = new CancellationTokenSource(Limit))
        {
            // A client of its own, so that disposing it closes the connection at once (a pooled one would be drained first).
            var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/images/generations")
            {
                Content = Json(Body("a red apple", 1, 256, 256, n: 8, stream: true)),
            }, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            await ReadEvents(response, (e, _) => e == "image_generation.progress", cts.Token);
            response.Dispose();
        }
        string metrics = "";
        await WaitUntil(async () =>
        {
            metrics = await server.Metrics();
            return Metric(metrics, "coar_active_rows") == 0 && Metric(metrics, "coar_queue_images") == 0
                && Metric(metrics, "coar_images_total{outcome=\"cancelled\"}") + Metric(metrics, "coar_images_total{outcome=\"completed\"}") == 8;
        }, "the disconnected client's images are cancelled or done and their rows freed");
        Assert.That(Metric(metrics, "coar_images_total{outcome=\"cancelled\"}"), Is.GreaterThanOrEqualTo(4), metrics);
        using var next = await server.Generate(Body("a blue bird", 2));
        Assert.That(next.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the server carries on");
    }

    [TestCase("{\"prompt\": \"x\", \"size\": 12", 400, null, "not valid JSON")]
    [TestCase("[1, 2]", 400, null, "JSON object")]
    [TestCase("{\"size\": \"64x64\"}", 400, "prompt", "required")]
    [TestCase("{\"prompt\": \"\"}", 400, "prompt", "non-empty")]
    [TestCase("{\"prompt\": \"x\", \"sise\": \"64\"}", 400, "sise", "unknown field")]
    [TestCase("{\"prompt\": \"x\", \"size\": \"65x64\"}", 400, "size", "multiples of 32")]
    [TestCase("{\"prompt\": \"x\", \"size\": \"big\"}", 400, "size", "WxH")]
    [TestCase("{\"prompt\": \"x\", \"size\": \"512x256\"}", 400, "size", "larger than the 256x256")]
    [TestCase("{\"prompt\": \"x\", \"n\": 0}", 400, "n", "1 to 8")]
    [TestCase("{\"prompt\": \"x\", \"n\": 1.5}", 400, "n", "1 to 8")]
    [TestCase("{\"prompt\": \"x\", \"cfg\": -1}", 400, "cfg", ">= 0")]
    [TestCase("{\"prompt\": \"x\", \"temperature\": 0}", 400, "temperature", "> 0")]
    [TestCase("{\"prompt\": \"x\", \"top_k\": \"many\"}", 400, "top_k", "integer")]
    [TestCase("{\"prompt\": \"x\", \"seed\": -3}", 400, "seed", "integer")]
    [TestCase("{\"prompt\": \"x\", \"response_format\": \"url\"}", 400, "response_format", "b64_json")]
    [TestCase("{\"prompt\": \"x\", \"concepts\": [\"dog\"]}", 400, "concepts", "no concept named 'dog'")]
    [TestCase("{\"prompt\": \"a photo of [V] dog\"}", 400, "prompt", "[V]")]
    [TestCase("{\"prompt\": \"x\", \"stream\": \"yes\"}", 400, "stream", "true or false")]
    [TestCase("{\"prompt\": \"x\", \"prompt\": \"y\"}", 400, null, "not valid JSON")]
    public async Task BadRequestsAreRefusedNamingTheField(string body, int status, string? param, string message)
    {
        await using var server = await StartAsync();
        using var response = await server.Generate(body);
        Assert.That((int)response.StatusCode, Is.EqualTo(status));
        var error = (await JsonOf(response)).GetProperty("error");
        Assert.That(error.GetProperty("message").GetString(), Does.Contain(message));
        Assert.That(error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString(), Is.EqualTo(param));
        Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
    }

    [Test]
    public async Task OversizedBodiesWrongContentTypesAndUnknownRoutesAreRefused()
    {
        await using var server = await StartAsync(new ServerOptions { MaxBodyBytes = 4096 });
        using var big = await server.Generate(Body(new string('a', 5000), 1));
        Assert.That(big.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        Assert.That((await JsonOf(big)).GetProperty("error").GetProperty("message").GetString(), Does.Contain("4096 bytes"));
        // Without Content-Length (chunked), the limit holds as well.
        var chunked = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Body(new string('b', 5000), 1))));
        chunked.Headers.ContentType = new("application/json");
        using var chunkedResponse = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/images/generations")
        {
            Content = chunked, Headers = { TransferEncodingChunked = true },
        });
        Assert.That(chunkedResponse.StatusCode, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        using var form = await server.Client.PostAsync("v1/images/generations", new StringContent("{\"prompt\": \"x\"}", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.That(form.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        using var nowhere = await server.Client.GetAsync("v1/models");
        Assert.That(nowhere.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        using var ok = await server.Generate(Body("a red apple", 1, 32, 32));
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the server carries on");
    }

    [Test]
    public async Task ConceptsAreLoadedAtStartupOrByNameFromADirectory()
    {
        var coar = Generation.GenerationEngine.Coar;
        string dir = Model.TinyModels.NewTempDir("concepts");
        var dog = Generation.GenerationEngine.RandomConcept("[V]", 1);
        var ink = new Graph.Concepts.Concept(Graph.Concepts.ConceptKind.Style, "[S]", "ink", 2, 1, 1, dog.Hidden, dog.Image, dog.Text);
        Graph.Concepts.ConceptFile.Save(Path.Combine(dir, "dog.safetensors"), dog, coar.Fingerprint);
        string startup = Path.Combine(Model.TinyModels.NewTempDir("startup"), "ink.safetensors");
        Graph.Concepts.ConceptFile.Save(startup, ink, coar.Fingerprint);
        Graph.Concepts.ConceptFile.Save(Path.Combine(dir, "other.safetensors"), dog, "0123456789abcdef");
        await using var server = await StartAsync(new ServerOptions { ConceptsDirectory = dir, Concepts = [("ink", startup)] });

        using var response = await server.Generate(Body("a photo of [V2] dog in [S] style", 3, extra: ", \"concepts\": [\"ink\", \"dog=[V2]\"]"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var expected = coar.Generate([new Graph.Generation.ImagePrompt("a photo of [V2] dog in [S] style", 64, 64, 3, new())
        {
            Concepts = [dog.WithPlaceholder("[V2]"), ink],
        }])[0].Tokens;
        var image = (await JsonOf(response)).GetProperty("data")[0];
        Assert.That(Tokens(image), Is.EqualTo(expected), "subjects first, each bound to its placeholder");
        Assert.That(image.GetProperty("metadata").GetProperty("concepts").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "ink", "dog=[V2]" }));

        foreach (var (name, message) in new[] { ("other", "trained on base model"), ("../dog", "no concept named"), ("cat", "no cat.safetensors") })
        {
            using var refused = await server.Generate(Body("a photo of [V] dog", 3, extra: $", \"concepts\": [\"{name}\"]"));
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), name);
            var error = (await JsonOf(refused)).GetProperty("error");
            Assert.That(error.GetProperty("param").GetString(), Is.EqualTo("concepts"));
            Assert.That(error.GetProperty("message").GetString(), Does.Contain(message), name);
            Assert.That(error.GetProperty("message").GetString(), Does.Not.Contain(dir), "the server's paths stay private");
        }
    }

    [Test]
    public async Task WithAKeyEveryRouteButHealthNeedsIt()
    {
        const string key = "0123456789abcdef-test-key";
        await using var server = await StartAsync(new ServerOptions { ApiKey = key });
        using var none = await server.Generate(Body("a red apple", 1, 32, 32));
        Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(none.Headers.WwwAuthenticate.ToString(), Is.EqualTo("Bearer"));
        Assert.That((await JsonOf(none)).GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("authentication_error"));
        using var wrong = await server.Generate(Body("a red apple", 1, 32, 32), apiKey: key + "x");
        Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var metrics = await server.Client.GetAsync("metrics");
        Assert.That(metrics.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        using var health = await server.Client.GetAsync("health");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK), "probes need no key");
        using var right = await server.Generate(Body("a red apple", 1, 32, 32), apiKey: key);
        Assert.That(right.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task ADrainFinishesWhatRunsAndRefusesTheRest()
    {
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(Limit);
        using var running = await server.Generate(Body("a red apple", 7, 96, 96, stream: true), cts.Token);
        var events = new List<(string Event, JsonElement Data)>();
        using var reader = new StreamReader(await running.Content.ReadAsStreamAsync(cts.Token));
        Assert.That(await reader.ReadLineAsync(cts.Token), Does.StartWith("event: image_generation.progress"));

        var drain = server.Server.DrainAsync(Limit);
        using var refused = await server.Generate(Body("a blue bird", 1), cts.Token);
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(refused.Headers.RetryAfter, Is.Not.Null);
        using var health = await server.Client.GetAsync("health", cts.Token);
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That((await JsonOf(health)).GetProperty("status").GetString(), Is.EqualTo("draining"));

        string rest = await reader.ReadToEndAsync(cts.Token);
        Assert.That(rest, Does.Contain("event: image_generation.completed").And.Contain("event: done"), "the running image is answered");
        Assert.That(await drain.WaitAsync(Limit), Is.True, "nothing had to be cancelled");
    }

    [Test]
    public async Task ADrainThatTimesOutCancelsWhatRunsAndSaysSo()
    {
        await using var server = await StartAsync();
        using var cts = new CancellationTokenSource(Limit);
        var slow = server.Generate(Body("a red apple", 7, 256, 256), cts.Token);
        await WaitUntil(async () => Metric(await server.Metrics(), "coar_active_images") == 1, "the image runs");
        Assert.That(await server.Server.DrainAsync(TimeSpan.FromMilliseconds(50)), Is.False);
        using var answer = await slow;
        Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That((await JsonOf(answer)).GetProperty("error").GetProperty("message").GetString(), Does.Contain("shutting down"));
    }
}
