using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph;
using CoAR.Engine.Server;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// `coar bench-serve`: images per second of the HTTP server under 1, 4, 16, ... concurrent clients. By default it
/// starts two servers in this process on loopback, one with continuous batching and one that generates one image
/// at a time (a batch of one), and loads each in turn; with --url it loads a running server instead.
/// </summary>
public static class BenchServeCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var device = DeviceOption.Create();
        var target = new Option<int>("--target") { Description = "The checkpoint's resolution (512, 768 or 1024)", DefaultValueFactory = _ => 768 };
        target.AcceptOnlyFromAmong("512", "768", "1024");
        var clients = new Option<string>("--clients") { Description = "Concurrent clients, comma-separated: one run each", DefaultValueFactory = _ => "1,4,16" };
        var requests = new Option<int?>("--requests") { Description = "Requests (one image each) per run (default: 4 per client, at least 8)" };
        var size = new Option<string>("--size") { Description = "Image size, N or WxH pixels", DefaultValueFactory = _ => "64" };
        var url = new Option<string?>("--url") { Description = "Load this running server (http://host:port/) instead of starting two here" };
        var repeat = new Option<int>("--repeat") { Description = "Runs of each setting, interleaved; the best is reported (a shared machine's noise only slows runs down)", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON" };
        var cmd = new Command("bench-serve", "Throughput of `coar serve` (images/s, latency) at several numbers of concurrent clients: continuous batching against one image at a time.");
        foreach (var o in new Option[] { model, device, target, clients, requests, size, url, repeat, json })
            cmd.Options.Add(o);
        cmd.SetAction((parse, cancellation) => CommandRunner.RunAsync(parse, async ct =>
        {
            var levels = parse.GetValue(clients)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(c => int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 1024
                    ? n : throw new UsageException($"--clients '{c}': expected numbers of clients from 1 to 1024, like 1,4,16")).ToList();
            if (levels.Count == 0) throw new UsageException("--clients: give at least one number of clients");
            int? fixedRequests = parse.GetValue(requests);
            if (fixedRequests is < 1) throw new UsageException("--requests: expected at least 1");
            var (w, h) = CliParsing.ImageSize(parse.GetValue(size)!, "--size");
            int Requests(int c) => fixedRequests ?? Math.Max(8, 4 * c);

            int repeats = parse.GetValue(repeat);
            if (repeats is < 1 or > 100) throw new UsageException("--repeat: expected 1 to 100");
            var runs = new List<BenchServeRow>();
            if (parse.GetValue(url) is { } external)
            {
                if (!Uri.TryCreate(external.EndsWith('/') ? external : external + "/", UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
                    throw new UsageException($"--url '{external}': expected http://host:port/");
                using var client = Client(address);
                for (int r = 0; r < repeats; r++)
                    foreach (int c in levels)
                        runs.Add(Row("server", await ServeBenchmark.RunAsync(client, c, Requests(c), w, h, 1, ct)));
            }
            else
            {
                string dir = ModelOption.Resolve(parse.GetValue(model));
                using var engine = CoarEngine.Load(new EngineParams(dir, parse.GetValue(device)!, TargetSize: parse.GetValue(target)), cancellation: ct);
                DeviceOption.Report(engine.Device);
                // One server at a time (each plans its KV cache from the memory that is free), the two kinds alternating
                // so that a change in the machine's load falls on both.
                for (int r = 0; r < repeats; r++)
                    foreach (int c in levels)
                        foreach (var (mode, batch) in new[] { ("continuous", levels.Max()), ("one-at-a-time", 1) })
                        {
                            var options = new ServerOptions
                            {
                                Port = 0, MaxBatch = batch, MaxQueuedImages = 4096, MaxWidth = w, MaxHeight = h, DefaultWidth = w, DefaultHeight = h, MaxPromptTokens = 64,
                            };
                            await using var server = await CoarServer.StartAsync(engine, options, ct);
                            using var client = Client(server.Address);
                            await ServeBenchmark.RunAsync(client, 1, 1, w, h, 1_000_000, ct); // warm-up: JIT, workspace
                            runs.Add(Row(mode, await ServeBenchmark.RunAsync(client, c, Requests(c), w, h, 1, ct)));
                        }
            }
            var rows = runs.GroupBy(r => (r.Mode, r.Clients)).Select(g => g.MaxBy(r => r.ImagesPerSecond)!).ToList();
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { width = w, height = h, runs = rows }, CliJson.Options));
            else
                Print(rows, w, h);
            foreach (var r in rows.Where(r => r.Failed > 0))
                Console.Error.WriteLine($"warning: {r.Failed} of {r.Requests} requests to the {r.Mode} server with {r.Clients} client(s) were not answered with an image");
            return ExitCodes.Ok;
        }, cancellation));
        return cmd;
    }

    private static HttpClient Client(Uri address) =>
        new() { BaseAddress = address, Timeout = TimeSpan.FromMinutes(30) };

    private static BenchServeRow Row(string mode, LoadResult r) =>
        new(mode, r.Clients, r.Requests, r.Failed, r.Seconds, r.ImagesPerSecond, r.LatencyP50, r.LatencyP95);

    private static void Print(List<BenchServeRow> rows, int w, int h)
    {
        var table = new Table().AddColumn("server").AddColumn("clients").AddColumn("images").AddColumn("images/s")
            .AddColumn("latency p50 s").AddColumn("latency p95 s");
        foreach (var r in rows)
            table.AddRow(r.Mode, $"{r.Clients}", $"{r.Requests - r.Failed}/{r.Requests}", $"{r.ImagesPerSecond:F2}", $"{r.LatencyP50:F2}", $"{r.LatencyP95:F2}");
        AnsiConsole.Console.MarkupLine($"{w}x{h} images, one per request, closed loop (best of the runs):");
        AnsiConsole.Console.Write(table);
        foreach (var c in rows.Select(r => r.Clients).Distinct())
            if (rows.FirstOrDefault(r => r.Mode == "continuous" && r.Clients == c) is { } cont
                && rows.FirstOrDefault(r => r.Mode == "one-at-a-time" && r.Clients == c) is { } one && one.ImagesPerSecond > 0)
                AnsiConsole.Console.MarkupLine($"{c} client(s): continuous batching {cont.ImagesPerSecond / one.ImagesPerSecond:F2}x one image at a time");
    }
}

/// <summary>One run of `coar bench-serve`.</summary>
public sealed record BenchServeRow(string Mode, int Clients, int Requests, int Failed, double Seconds, double ImagesPerSecond, double LatencyP50, double LatencyP95);
