using System.Diagnostics;
using System.Net;
using CoAR.Engine.Cli;
using NUnit.Framework;
using static CoAR.Engine.Tests.Server.TestServer;

namespace CoAR.Engine.Tests.Server;

/// <summary>`coar serve` as a user runs it: a process with the built-in model on loopback, stopped by Ctrl+C (SIGINT).</summary>
public class ServeCommandTests
{
    [Test]
    public async Task ServeWithNoOptionsServesTheBuiltInModelAndCtrlCDrains()
    {
        // Only the port is chosen (any free one), so that parallel CI jobs do not collide on the default 8000.
        using var serve = await ServeProcess.StartAsync("--port", "0");
        var process = serve.Process;
        string Stderr() => serve.Stderr();
        var address = serve.Address;
        Assert.That(address, Is.Not.Null, "the server says where it listens");
        Assert.That(IPAddress.IsLoopback(IPAddress.Parse(address!.Host)), Is.True, "loopback by default");
        using var client = new HttpClient { BaseAddress = address, Timeout = Limit };
        using var one = await client.PostAsync("v1/images/generations", Json(Body("a red apple", 1, 64, 64)));
        Assert.That(one.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var png = Convert.FromBase64String(System.Text.Json.JsonDocument.Parse(await one.Content.ReadAsStringAsync())
            .RootElement.GetProperty("data")[0].GetProperty("b64_json").GetString()!);
        Assert.That(png[1..4], Is.EqualTo("PNG"u8.ToArray()));

        // Ctrl+C while an image runs: it is finished and answered, then the process ends cleanly.
        using var cts = new CancellationTokenSource(Limit);
        using var running = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/images/generations")
        {
            Content = Json(Body("a blue bird", 2, 256, 256, stream: true)),
        }, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await running.Content.ReadAsStreamAsync(cts.Token));
        Assert.That(await reader.ReadLineAsync(cts.Token), Does.StartWith("event: image_generation.progress"));
        Process.Start("kill", [CtrlCSignal(), process.Id.ToString()])!.WaitForExit();
        string rest = await reader.ReadToEndAsync(cts.Token);
        Assert.That(rest, Does.Contain("event: image_generation.completed").And.Contain("event: done"));
        Assert.That(process.WaitForExit(Limit), Is.True, () => $"the server stops after draining; its stderr:\n{Stderr()}");
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.EqualTo(ExitCodes.Ok), Stderr);
        Assert.That(Stderr(), Does.Contain("draining").And.Contain("drained").And.Not.Contain("error:"));
    }

    /// <summary>
    /// SIGINT, unless this process ignores it (run under nohup, or as a background job of a shell without job
    /// control): the server inherits that, and .NET, like every well-behaved program, leaves an ignored SIGINT ignored.
    /// Then SIGTERM, which the server drains on in the same way (Kubernetes' stop signal).
    /// </summary>
    private static string CtrlCSignal()
    {
        string? ignored = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        bool sigintIgnored = ignored is not null && (Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16) & (1UL << (2 - 1))) != 0;
        return sigintIgnored ? "-TERM" : "-INT";
    }

    [TestCase("--max-size", "100", "--max-size")]
    [TestCase("--drain-timeout", "60", "--drain-timeout 60")]
    [TestCase("--host", "example.com", "--host 'example.com'")]
    [TestCase("--default-size", "512", "larger than --max-size")]
    public void BadOptionsAreUsageErrors(string option, string value, string message)
    {
        string[] args = option == "--default-size" ? ["serve", "--max-size", "256", option, value] : ["serve", option, value];
        var (code, _, error) = Cli.CliHarness.Run(args);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), error);
        Assert.That(error, Does.Contain(message));
    }

    [Test]
    public void AShortApiKeyIsRefused()
    {
        string file = Path.Combine(Model.TinyModels.NewTempDir("key"), "key");
        File.WriteAllText(file, "short\n");
        var (code, _, error) = Cli.CliHarness.Run("serve", "--api-key-file", file);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("at least 16"));
    }

    [Test]
    public void TheServingBenchmarkRunsBothServers()
    {
        // Whether continuous batching wins is measured by the benchmark itself (bench/RESULTS.md), not asserted here.
        var (code, output, error) = Cli.CliHarness.Run("bench-serve", "--model", Model.TinyModels.Default, "--device", "cpu", "--target", "512",
            "--clients", "1,2", "--requests", "2", "--size", "32", "--json");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        var runs = System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("runs").EnumerateArray().ToList();
        Assert.That(runs.Select(r => (r.GetProperty("mode").GetString(), r.GetProperty("clients").GetInt32())),
            Is.EquivalentTo(new[] { ("continuous", 1), ("one-at-a-time", 1), ("continuous", 2), ("one-at-a-time", 2) }));
        Assert.That(runs.All(r => r.GetProperty("failed").GetInt32() == 0 && r.GetProperty("images_per_second").GetDouble() > 0), Is.True);
    }
}
