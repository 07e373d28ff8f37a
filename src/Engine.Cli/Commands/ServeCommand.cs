using System.CommandLine;
using System.Net;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Server;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// `coar serve`: the HTTP image server (OpenAI-shaped POST /v1/images/generations, /health, /metrics) on one engine,
/// with continuous batching across requests. Loopback by default. Ctrl+C (or SIGTERM) drains: no new requests, what
/// runs finishes, and after --drain-timeout is cancelled.
/// </summary>
public static class ServeCommand
{
    public const string ApiKeyVariable = "COAR_API_KEY";

    /// <summary>The longest drain: `coar` gives a command 30 s after Ctrl+C or SIGTERM (Kubernetes' default grace period too).</summary>
    public const int MaxDrainSeconds = 25;

    public static Command Create()
    {
        var model = ModelOption.Create();
        var device = DeviceOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var target = new Option<int>("--target") { Description = "The checkpoint's resolution (512, 768 or 1024): bounds the image area", DefaultValueFactory = _ => 768 };
        target.AcceptOnlyFromAmong("512", "768", "1024");
        var host = new Option<string>("--host") { Description = "Address to listen on: 127.0.0.1 (default, this machine only), ::1, or 0.0.0.0 for every interface", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free port; the server prints which)", DefaultValueFactory = _ => 8000 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most guided images generated at once (fewer when memory says so; unguided ones take half the room)", DefaultValueFactory = _ => 16 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Most images waiting; beyond it requests get 429 with Retry-After", DefaultValueFactory = _ => 64 };
        var maxN = new Option<int>("--max-n") { Description = "Most images one request may ask for (n)", DefaultValueFactory = _ => 8 };
        var maxSize = new Option<string?>("--max-size") { Description = "Largest image served, N or WxH pixels (default: the --target size); the KV cache is planned for it" };
        var defaultSize = new Option<string?>("--default-size") { Description = "Size of a request that names none (default: --max-size)" };
        var maxPromptTokens = new Option<int>("--max-prompt-tokens") { Description = "Longest prompt in tokens (with concept slots); the KV cache is planned for it", DefaultValueFactory = _ => 512 };
        var maxBody = new Option<int>("--max-body-bytes") { Description = "Largest request body; larger ones get 413", DefaultValueFactory = _ => 256 * 1024 };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = $"A file holding the API key requests must send as \"Authorization: Bearer KEY\" (or set {ApiKeyVariable}); /health stays open" };
        var concepts = new Option<string[]>("--concept", "-c") { Description = "A concept file requests may name (by its file name without .safetensors); repeat for several", DefaultValueFactory = _ => [] };
        var conceptsDir = new Option<string?>("--concepts-dir") { Description = "A directory of NAME.safetensors concept files that requests may name, loaded on first use" };
        var drain = new Option<int>("--drain-timeout") { Description = $"Seconds Ctrl+C waits for running images before cancelling them (at most {MaxDrainSeconds})", DefaultValueFactory = _ => 20 };
        var weights = new AdaptedWeightOptions();
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No request log on stderr" };

        var cmd = new Command("serve", "Serve image generation over HTTP: POST /v1/images/generations (OpenAI Images API shape, optional streaming), GET /health, GET /metrics.");
        foreach (var o in (Option[])[model, device, vqgan, target, host, port, maxBatch, maxQueue, maxN, maxSize, defaultSize, maxPromptTokens, maxBody, apiKeyFile, concepts, conceptsDir, .. weights.All, drain, quiet])
            cmd.Options.Add(o);
        cmd.SetAction((parse, cancellation) => CommandRunner.RunAsync(parse, async ct =>
        {
            CliErrors.ReportsOwnCancellation = true;
            int targetSize = parse.GetValue(target);
            var (maxW, maxH) = parse.GetValue(maxSize) is { } ms ? CliParsing.ImageSize(ms, "--max-size") : (targetSize, targetSize);
            var (defW, defH) = parse.GetValue(defaultSize) is { } ds ? CliParsing.ImageSize(ds, "--default-size") : (maxW, maxH);
            Check(() => LuminaImageSizes.Validate(maxW, maxH, targetSize), "--max-size");
            Check(() => LuminaImageSizes.Validate(defW, defH, targetSize), "--default-size");
            if (defW > maxW || defH > maxH) throw new UsageException($"--default-size {defW}x{defH} is larger than --max-size {maxW}x{maxH}");
            Positive(parse.GetValue(port) is >= 0 and <= 65535, $"--port {parse.GetValue(port)}: expected 0 to 65535");
            Positive(parse.GetValue(maxBatch) is >= 1 and <= 1024, "--max-batch: expected 1 to 1024");
            Positive(parse.GetValue(maxQueue) >= 1, "--max-queue: expected at least 1");
            Positive(parse.GetValue(maxN) is >= 1 and <= 128, "--max-n: expected 1 to 128");
            Positive(parse.GetValue(maxPromptTokens) is >= 16 and <= 65536, "--max-prompt-tokens: expected 16 to 65536");
            Positive(parse.GetValue(maxBody) >= 1024, "--max-body-bytes: expected at least 1024");
            int drainSeconds = parse.GetValue(drain);
            Positive(drainSeconds is >= 0 and <= MaxDrainSeconds, $"--drain-timeout {drainSeconds}: expected 0 to {MaxDrainSeconds} seconds");
            string hostValue = parse.GetValue(host)!;
            if (hostValue != "localhost" && !IPAddress.TryParse(hostValue, out _))
                throw new UsageException($"--host '{hostValue}': expected an IP address (127.0.0.1, ::1, 0.0.0.0) or localhost");
            string? apiKey = ApiKey(parse.GetValue(apiKeyFile));
            var conceptFiles = parse.GetValue(concepts)!.Select(f => (Path.GetFileNameWithoutExtension(f), f)).ToList();

            var adapted = weights.Read(parse); // before the model loads: a bad file fails at once

            string dir = ModelOption.Resolve(parse.GetValue(model));
            using var engine = CoarEngine.Load(new EngineParams(dir, parse.GetValue(device)!, parse.GetValue(vqgan), targetSize), cancellation: ct);
            DeviceOption.Report(engine.Device);
            adapted.Apply(engine); // every request generates with them; /health says how
            var options = new ServerOptions
            {
                Host = hostValue, Port = parse.GetValue(port), MaxBatch = parse.GetValue(maxBatch), MaxQueuedImages = parse.GetValue(maxQueue),
                MaxImagesPerRequest = parse.GetValue(maxN), MaxWidth = maxW, MaxHeight = maxH, DefaultWidth = defW, DefaultHeight = defH,
                MaxPromptTokens = parse.GetValue(maxPromptTokens), MaxBodyBytes = parse.GetValue(maxBody), ApiKey = apiKey,
                Concepts = conceptFiles, ConceptsDirectory = parse.GetValue(conceptsDir), RequestLog = parse.GetValue(quiet) ? null : Console.Error,
            };
            CoarServer server;
            try
            {
                server = await CoarServer.StartAsync(engine, options, ct);
            }
            catch (IOException e) when (e.InnerException is not null || e.Message.Contains("bind", StringComparison.OrdinalIgnoreCase))
            {
                throw new UsageException($"cannot listen on {hostValue}:{options.Port}: {e.Message} (another server there? pick another --port)");
            }
            await using (server)
            {
                bool loopback = hostValue == "localhost" || IPAddress.IsLoopback(IPAddress.Parse(hostValue));
                if (!loopback && apiKey is null)
                    Console.Error.WriteLine($"warning: listening on {hostValue} without an API key: anyone who can reach this port can use it (set {ApiKeyVariable} or --api-key-file)");
                Console.WriteLine($"coar serve: listening on {server.Address} (model {Path.GetFileName(Path.TrimEndingDirectorySeparator(dir))} on {engine.Backend.Name}{(apiKey is null ? "" : ", API key required")})");
                Console.WriteLine($"  batch: {server.Plan}");
                Console.WriteLine($"  try: curl -s {server.Address}v1/images/generations -H 'Content-Type: application/json' -d '{{\"prompt\": \"a red apple\", \"size\": \"256x256\"}}' | jq -r '.data[0].b64_json' | base64 -d > apple.png");
                Console.Out.Flush();
                // Continued on the thread pool: Ctrl+C cancels ct on the signal handler's thread, and a drain run inline
                // there could end the command inside the handler, which then waits for itself to finish.
                var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                using (ct.Register(() => stop.TrySetResult()))
                    await stop.Task;
                Console.Error.WriteLine($"coar serve: draining: no new requests; waiting up to {drainSeconds} s for the images in progress");
                bool finished = await server.DrainAsync(TimeSpan.FromSeconds(drainSeconds));
                Console.Error.WriteLine(finished
                    ? "coar serve: drained: every accepted image was answered; stopped"
                    : $"coar serve: the images still running after {drainSeconds} s were cancelled (their clients got 503); stopped");
                return finished ? ExitCodes.Ok : ExitCodes.Cancelled;
            }
        }, cancellation));
        return cmd;
    }

    /// <summary>The key from --api-key-file (its first line, trimmed) or COAR_API_KEY; null: no authentication.</summary>
    private static string? ApiKey(string? file)
    {
        string? key = file is not null
            ? InputFile.ReadAllText(file, 64 * 1024, "API key file").Split('\n')[0].Trim()
            : Environment.GetEnvironmentVariable(ApiKeyVariable)?.Trim();
        if (key is null) return null;
        if (key.Length < 16)
            throw new UsageException($"{(file ?? ApiKeyVariable)}: the API key is {key.Length} characters; use at least 16 (e.g. `openssl rand -hex 32`)");
        return key;
    }

    private static void Check(Action validate, string option)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{option}: {e.Message}");
        }
    }

    private static void Positive(bool ok, string message)
    {
        if (!ok) throw new UsageException(message);
    }
}
