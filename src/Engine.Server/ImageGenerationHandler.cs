using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Graph.Text;
using Microsoft.AspNetCore.Http;

namespace CoAR.Engine.Server;

/// <summary>
/// POST /v1/images/generations: checks the request, queues its images on the scheduler, and answers with the PNGs
/// (base64) and each image's metadata (the sidecar `coar generate` writes), or with "stream": true as server-sent
/// events: <c>image_generation.progress</c> (stage, tokens done of total), one <c>image_generation.completed</c> per
/// image, then <c>done</c>. A client that goes away cancels its images, which frees their KV-cache rows.
/// </summary>
internal sealed class ImageGenerationHandler(CoarEngine engine, GenerationScheduler scheduler, ConceptLibrary concepts,
    ServerOptions options, ServerMetrics metrics, string modelName)
{
    // Base64's '+' and '/' and the prompt's quotes as themselves: the answer is JSON, never embedded in HTML.
    private static readonly JsonWriterOptions JsonWriting = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task<int> HandleAsync(HttpContext http)
    {
        var request = await ImageRequest.ReadAsync(http.Request, options, http.RequestAborted);
        var prompts = Prompts(request);
        var events = request.Stream ? Channel.CreateBounded<ImageProgress>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest }) : null;
        // A request's images end together: when one fails, an answer without a stream cannot use the others.
        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        IReadOnlyList<Task<GeneratedImage>> images;
        try
        {
            images = scheduler.Submit(prompts, events is null ? null : new ChannelProgress(events.Writer), siblings.Token);
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException)
        {
            throw ApiError.BadField("prompt", e.Message);
        }
        catch (SchedulerFullException e)
        {
            throw new ApiError(StatusCodes.Status429TooManyRequests,
                $"the server is busy: {e.Message}; retry after the time in Retry-After", code: "queue_full") { RetryAfter = RetryAfter(e.Queued + prompts.Count) };
        }
        catch (SchedulerClosedException)
        {
            throw ShuttingDown();
        }
        if (events is not null)
            return await StreamAsync(http, request, images, events.Reader);
        foreach (var image in images)
            _ = image.ContinueWith(_ => CancelQuietly(siblings), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        try
        {
            await Task.WhenAll(images);
        }
        catch (OperationCanceledException) when (!http.RequestAborted.IsCancellationRequested)
        {
            throw ShuttingDown();
        }
        catch (Exception) when (images.FirstOrDefault(t => t.IsFaulted) is { } failed)
        {
            throw Failed(images, failed);
        }
        // Built in memory, then sent: Kestrel allows no synchronous writes, which serializing into the body would make.
        var body = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(body, JsonWriting))
        {
            json.WriteStartObject();
            json.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            json.WriteStartArray("data");
            foreach (var image in images)
                WriteImage(json, image.Result, request, index: null);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        http.Response.ContentType = "application/json";
        http.Response.ContentLength = body.WrittenCount;
        await http.Response.Body.WriteAsync(body.WrittenMemory, http.RequestAborted);
        return StatusCodes.Status200OK;
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The request was answered already.
        }
    }

    /// <summary>The request's images: size checked against the checkpoint and the server, concepts bound, seeds counted up.</summary>
    private List<ImagePrompt> Prompts(ImageRequest request)
    {
        try
        {
            LuminaImageSizes.Validate(request.Width, request.Height, engine.Prompt.TargetSize);
        }
        catch (ArgumentException e)
        {
            throw ApiError.BadField("size", e.Message);
        }
        if (request.Width > scheduler.Plan.MaxWidth || request.Height > scheduler.Plan.MaxHeight)
            throw ApiError.BadField("size", $"'size' {request.Width}x{request.Height} is larger than the {scheduler.Plan.MaxWidth}x{scheduler.Plan.MaxHeight} this server makes");
        var bound = concepts.Resolve(request.Concepts);
        ulong seed = request.Seed ?? (ulong)Random.Shared.NextInt64(0, int.MaxValue);
        return Enumerable.Range(0, request.N)
            .Select(i => new ImagePrompt(request.Prompt, request.Width, request.Height, unchecked(seed + (ulong)i), request.Sampling) { Concepts = bound })
            .ToList();
    }

    private async Task<int> StreamAsync(HttpContext http, ImageRequest request, IReadOnlyList<Task<GeneratedImage>> images, ChannelReader<ImageProgress> progress)
    {
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.FlushAsync(http.RequestAborted);
        var remaining = images.Select((task, index) => (task, index)).ToList();
        Task<bool>? waitForProgress = null;
        var sent = new Dictionary<int, ImageProgress>();
        while (remaining.Count > 0)
        {
            waitForProgress ??= progress.WaitToReadAsync(http.RequestAborted).AsTask();
            await Task.WhenAny(remaining.Select(r => (Task)r.task).Append(waitForProgress));
            if (waitForProgress.IsCompleted)
            {
                waitForProgress = null;
                // At most one event per image per percent (or stage): a 768 image has 2352 tokens.
                while (progress.TryRead(out var p))
                {
                    if (sent.TryGetValue(p.Index, out var before) && before.Stage == p.Stage
                        && 100L * before.TokensDone / p.TokensTotal == 100L * p.TokensDone / p.TokensTotal)
                        continue;
                    sent[p.Index] = p;
                    await Event(response, "image_generation.progress", new
                    {
                        index = p.Index, stage = p.Stage.ToString().ToLowerInvariant(), tokens_done = p.TokensDone, tokens_total = p.TokensTotal,
                    }, http.RequestAborted);
                }
            }
            foreach (var (task, index) in remaining.Where(r => r.task.IsCompleted).ToList())
            {
                remaining.Remove((task, index));
                if (task.IsCompletedSuccessfully)
                {
                    var buffer = new ArrayBufferWriter<byte>();
                    using (var json = new Utf8JsonWriter(buffer, JsonWriting))
                        WriteImage(json, task.Result, request, index);
                    await RawEvent(response, "image_generation.completed", buffer.WrittenMemory, http.RequestAborted);
                }
                else if (http.RequestAborted.IsCancellationRequested)
                    return StatusCodes.Status200OK;
                else
                {
                    var error = task.IsCanceled ? ShuttingDown() : Failed(images, task);
                    await RawEvent(response, "error", System.Text.Encoding.UTF8.GetBytes(error.Json()), http.RequestAborted);
                }
            }
        }
        await Event(response, "done", new { created = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), images = images.Count(t => t.IsCompletedSuccessfully) },
            http.RequestAborted);
        return StatusCodes.Status200OK;
    }

    private void WriteImage(Utf8JsonWriter json, GeneratedImage image, ImageRequest request, int? index)
    {
        json.WriteStartObject();
        if (index is { } i) json.WriteNumber("index", i);
        json.WriteString("b64_json", Convert.ToBase64String(ImageFile.EncodePng(image.Image)));
        json.WritePropertyName("metadata");
        var sidecar = ImageSidecar.From(image, modelName, engine.Fingerprint, engine.Backend.Name) with { Concepts = [.. request.Concepts] };
        JsonSerializer.Serialize(json, sidecar, ImageSidecar.JsonOptions);
        json.WriteEndObject();
    }

    private static async Task Event(HttpResponse response, string name, object data, CancellationToken cancellation) =>
        await RawEvent(response, name, JsonSerializer.SerializeToUtf8Bytes(data), cancellation);

    private static async Task RawEvent(HttpResponse response, string name, ReadOnlyMemory<byte> data, CancellationToken cancellation)
    {
        await response.WriteAsync($"event: {name}\ndata: ", cancellation);
        await response.Body.WriteAsync(data, cancellation);
        await response.WriteAsync("\n\n", cancellation);
        await response.Body.FlushAsync(cancellation);
    }

    private static ApiError Failed(IReadOnlyList<Task<GeneratedImage>> images, Task<GeneratedImage> failed)
    {
        int i = images.ToList().IndexOf(failed);
        var e = failed.Exception!.InnerException!;
        return new ApiError(StatusCodes.Status500InternalServerError, $"image {i + 1} of {images.Count} failed: {e.Message}", code: "generation_failed");
    }

    public static ApiError ShuttingDown() =>
        new(StatusCodes.Status503ServiceUnavailable, "the server is shutting down; retry on another instance", code: "shutting_down")
        {
            RetryAfter = TimeSpan.FromSeconds(5),
        };

    /// <summary>How long until the queue has room: the images ahead over the recent rate (1 s to 5 min).</summary>
    private TimeSpan RetryAfter(int imagesAhead)
    {
        double perSecond = metrics.Rates().Images;
        double seconds = perSecond > 0 ? imagesAhead / perSecond : 5;
        return TimeSpan.FromSeconds(Math.Clamp(seconds, 1, 300));
    }

    /// <summary>Hands the worker thread's progress to the response's loop without blocking the worker.</summary>
    private sealed class ChannelProgress(ChannelWriter<ImageProgress> writer) : IProgress<ImageProgress>
    {
        public void Report(ImageProgress value) => writer.TryWrite(value);
    }
}
