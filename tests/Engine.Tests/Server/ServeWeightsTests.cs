using System.Net;
using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;
using static CoAR.Engine.Tests.Generation.GenerationEngine;
using static CoAR.Engine.Tests.Server.TestServer;

namespace CoAR.Engine.Tests.Server;

/// <summary>`coar serve --lora DIR --projections FILE`: the weights applied at startup, said on stderr and in /health; bad files refused before the model loads.</summary>
public class ServeWeightsTests
{
    [Test]
    public async Task AdaptersAndFineTunedWeightsApplyToEveryRequest()
    {
        string dir = TinyModels.NewTempDir("serve-weights");
        string adapterDir = Path.Combine(dir, "adapter");
        var adapter = LoraAdapter.Create(Coar.Model.Config, 2, 4, Projections.Qkv, [0, 1], seed: 3);
        foreach (var p in adapter.Pairs)
            for (int i = 0; i < p.B.Length; i++) p.B[i] = (i % 5 - 2) * 0.05f;
        PeftAdapterFile.Save(adapterDir, adapter, Coar.Fingerprint);
        var deltas = WeightDeltas.Create(Coar.Model.Config, Projections.Qkv, [0]);
        foreach (var d in deltas.All)
            for (int i = 0; i < d.Values.Length; i++) d.Values[i] = (i % 3 - 1) * 0.01f;
        string projections = Path.Combine(dir, FineTunedProjections.FileName);
        FineTunedProjections.Save(projections, deltas, Coar.Model, Coar.Fingerprint);

        try
        {
            using var serve = await ServeProcess.StartAsync("--model", TinyModels.Default, "--device", "cpu", "--target", "512", "--max-size", "64",
                "--port", "0", "--drain-timeout", "0", "--lora", adapterDir, "--projections", dir);
            var address = serve.Address;
            Assert.That(address, Is.Not.Null, serve.Stderr);
            // Written before the "listening on" line, but stderr is read on its own: wait for it.
            await WaitUntil(() => Task.FromResult(serve.Stderr().Contains("applied unmerged")), "the startup log's LoRA line");
            Assert.That(serve.Stderr(), Does.Contain("fine-tuned weights: 3 projections").And.Contain(projections)
                .And.Contain("LoRA: 1 adapter(s) (rank 2 on 6 projections) applied unmerged"));

            using var client = new HttpClient { BaseAddress = address, Timeout = Limit };
            var health = JsonDocument.Parse(await client.GetStringAsync("health")).RootElement;
            Assert.That(health.GetProperty("lora").GetString(), Is.EqualTo("unmerged"));
            Assert.That(health.GetProperty("projections").GetBoolean(), Is.True);
            using var image = await client.PostAsync("v1/images/generations", Json(Body("a red apple", 1, 64, 64)));
            Assert.That(image.StatusCode, Is.EqualTo(HttpStatusCode.OK), await image.Content.ReadAsStringAsync());
            var tokens = Tokens(JsonDocument.Parse(await image.Content.ReadAsStringAsync()).RootElement.GetProperty("data")[0]);
            Assert.That(tokens, Is.Not.EqualTo(AloneTokens("a red apple", 1)), "the served image is the adapted model's, not the base model's");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void BadWeightFilesFailBeforeTheModelLoads()
    {
        var (code, _, error) = Cli.CliHarness.Run("serve", "--lora", "/nonexistent/adapter");
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput), error);
        Assert.That(error, Does.Contain("/nonexistent/adapter"));
        (code, _, error) = Cli.CliHarness.Run("serve", "--projections", "/nonexistent/projections.safetensors");
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), error);
        Assert.That(error, Does.Contain("--projections '/nonexistent/projections.safetensors'"));
        (code, _, error) = Cli.CliHarness.Run("serve", "--lora-merge");
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), error);
        Assert.That(error, Does.Contain("--lora-merge: no --lora adapter given"));
    }
}
