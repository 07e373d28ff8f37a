using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CoAR.Engine.Server;

/// <summary>
/// The HTTP image server on one engine (one GPU): Kestrel with minimal APIs, every image request feeding one
/// continuous-batching <see cref="GenerationScheduler"/>. Routes: POST /v1/images/generations, GET /health,
/// GET /metrics. Limits (<see cref="ServerOptions"/>): body size (413), a bounded queue (429 with Retry-After),
/// fields checked (400 naming the field), optional bearer key (401). <see cref="DrainAsync"/> stops accepting and
/// lets what runs finish, cancelling it after a timeout. Scale out by running one server per GPU behind a load
/// balancer; /health answers 503 while draining so the balancer stops sending.
/// </summary>
public sealed class CoarServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly GenerationScheduler _scheduler;
    private readonly ServerMetrics _metrics;
    private readonly ServerOptions _options;
    private volatile bool _draining;

    private CoarServer(WebApplication app, GenerationScheduler scheduler, ServerMetrics metrics, ServerOptions options)
    {
        _app = app;
        _scheduler = scheduler;
        _metrics = metrics;
        _options = options;
    }

    /// <summary>Where it listens, e.g. http://127.0.0.1:8000/ (the port chosen when 0 was asked for).</summary>
    public Uri Address { get; private set; } = null!;

    public SchedulerPlan Plan => _scheduler.Plan;

    public bool Draining => _draining;

    /// <summary>
    /// Plans the scheduler from the engine's memory, loads the startup concepts (an error naming the file when one
    /// does not fit the model), and starts listening.
    /// </summary>
    public static async Task<CoarServer> StartAsync(CoarEngine engine, ServerOptions options, CancellationToken cancellation = default)
    {
        var concepts = new ConceptLibrary(engine, options.Concepts, options.ConceptsDirectory);
        var plan = engine.PlanScheduler(options.MaxWidth, options.MaxHeight, options.MaxPromptTokens, options.MaxBatch);
        var scheduler = engine.CreateScheduler(plan, options.MaxQueuedImages);
        var metrics = new ServerMetrics(scheduler, engine.Model.Weights.Bytes);
        WebApplication? app = null;
        try
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
            builder.Logging.ClearProviders();
            // The `coar` command owns Ctrl+C and SIGTERM (it drains first); the host must not stop on them by itself.
            builder.Services.AddSingleton<IHostLifetime, CommandOwnedLifetime>();
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                kestrel.AddServerHeader = false;
                kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
                kestrel.Listen(new IPEndPoint(ParseHost(options.Host), options.Port));
            });
            app = builder.Build();
            var server = new CoarServer(app, scheduler, metrics, options);
            var handler = new ImageGenerationHandler(engine, scheduler, concepts, options, metrics, Path.GetFileName(Path.TrimEndingDirectorySeparator(engine.Parameters.ModelDir)));
            server.MapRoutes(handler, engine);
            await app.StartAsync(cancellation);
            string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            server.Address = new Uri(bound.EndsWith('/') ? bound : bound + "/");
            return server;
        }
        catch
        {
            if (app is not null) await app.DisposeAsync();
            metrics.Dispose();
            scheduler.Dispose();
            throw;
        }
    }

    private static IPAddress ParseHost(string host) =>
        host == "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var ip) ? ip
        : throw new ArgumentException($"--host '{host}': expected an IP address (127.0.0.1, ::1, 0.0.0.0) or localhost");

    private void MapRoutes(ImageGenerationHandler handler, CoarEngine engine)
    {
        _app.MapPost("/v1/images/generations", (Func<HttpContext, Task>)(http => Serve(http, images: true, async () =>
        {
            if (_draining) throw ImageGenerationHandler.ShuttingDown();
            return await handler.HandleAsync(http);
        })));
        _app.MapGet("/health", (Func<HttpContext, Task>)(http => Serve(http, images: false, async () =>
        {
            var s = _scheduler.Stats();
            bool draining = _draining;
            http.Response.StatusCode = draining ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            await http.Response.WriteAsJsonAsync(new
            {
                status = draining ? "draining" : "ok", model = engine.Fingerprint, device = engine.Backend.Name,
                queued_images = s.QueuedImages, active_images = s.ActiveImages,
                lora = engine.AppliedLora.ToString().ToLowerInvariant(), projections = engine.AppliedProjections,
            }, http.RequestAborted);
            return http.Response.StatusCode;
        }, authenticate: false)));
        _app.MapGet("/metrics", (Func<HttpContext, Task>)(http => Serve(http, images: false, async () =>
        {
            http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await http.Response.WriteAsync(_metrics.Render(), http.RequestAborted);
            return StatusCodes.Status200OK;
        })));
        _app.MapFallback((Func<HttpContext, Task>)(http => Serve(http, images: false, () =>
            throw new ApiError(StatusCodes.Status404NotFound, $"no route {http.Request.Method} {http.Request.Path}; the server answers POST /v1/images/generations, GET /health and GET /metrics"),
            authenticate: false)));
    }

    /// <summary>Runs one request: authentication, errors as OpenAI error bodies, metrics, the request log. Never throws.</summary>
    private async Task Serve(HttpContext http, bool images, Func<Task<int>> handle, bool authenticate = true)
    {
        long start = Stopwatch.GetTimestamp();
        int status;
        string detail = "";
        try
        {
            if (authenticate) Authenticate(http.Request);
            status = await handle();
        }
        catch (ApiError e)
        {
            status = e.Status;
            await TryWrite(http, e);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            status = 499; // the client closed the connection (nginx's code); its images were cancelled
        }
        catch (Exception e)
        {
            status = StatusCodes.Status500InternalServerError;
            detail = $" internal error: {e}";
            await TryWrite(http, new ApiError(status, $"internal error: {e.GetType().Name}: {e.Message}", code: "internal_error"));
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        _metrics.Request(status, images ? seconds : null);
        _options.RequestLog?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.Now:HH:mm:ss} {http.Request.Method} {http.Request.Path} {status} {seconds:F2}s{detail}"));
    }

    private static async Task TryWrite(HttpContext http, ApiError error)
    {
        try
        {
            await error.WriteAsync(http.Response);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone; nothing to tell it.
        }
    }

    private void Authenticate(HttpRequest request)
    {
        if (_options.ApiKey is not { } key) return;
        string header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        bool ok = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
                  && CryptographicOperations.FixedTimeEquals(
                      SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        if (!ok)
            throw new ApiError(StatusCodes.Status401Unauthorized,
                header.Length == 0 ? "this server needs an API key: send \"Authorization: Bearer KEY\"" : "the API key is not valid", code: "invalid_api_key");
    }

    /// <summary>
    /// Stops accepting images (new requests get 503, /health says draining), waits up to <paramref name="timeout"/>
    /// for the queued and running ones to finish, then cancels the rest. True when nothing had to be cancelled.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        _draining = true;
        _scheduler.Close();
        bool finished = await Task.WhenAny(_scheduler.Idle, Task.Delay(timeout)) == _scheduler.Idle;
        if (!finished)
        {
            _scheduler.CancelAll();
            await _scheduler.Idle.WaitAsync(TimeSpan.FromSeconds(10));
        }
        // Let the handlers write their answers before the listener goes.
        await _app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        return finished;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        _metrics.Dispose();
        _scheduler.Dispose();
    }

    /// <summary>A host lifetime that leaves signals to the `coar` command, which drains before it stops the host.</summary>
    private sealed class CommandOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
