using CoAR.Engine.Graph.Generation;
using NUnit.Framework;
using static CoAR.Engine.Tests.Generation.GenerationEngine;

namespace CoAR.Engine.Tests.Generation;

/// <summary>
/// Continuous batching: images join a running batch at any step and leave when done, and each image's tokens are
/// the same as when it runs alone (the draw is keyed by image seed and body index; every op is row-independent).
/// </summary>
public class ContinuousBatchTests
{
    private static ImageTokenRequest Request(string caption, ulong seed, int w = 64, int h = 64, float cfg = 4f, int topK = 2000) =>
        Coar.Generator.Prepare(new ImagePrompt(caption, w, h, seed, new SamplingSettings(cfg, topK, 1f)));

    private static int[] Alone(ImageTokenRequest r) => new ImageTokenGenerator(Coar.Model).Generate([r])[0].Tokens;

    [Test]
    public void ImagesJoiningAtDifferentStepsGetTheTokensTheyGetAlone()
    {
        var dog = RandomConcept("[V]", 1);
        var ink = RandomConcept("[S]", 2);
        var requests = new[]
        {
            Request("a red apple", 5, 64, 96),
            Request("a small house by the sea", 6, 32, 64, cfg: 1f),
            Coar.Generator.Prepare(new ImagePrompt("a photo of [V] dog", 64, 64, 7, new SamplingSettings()) { Concepts = [dog] }),
            Request("a red apple", 8, 96, 32, cfg: 2.5f, topK: 50),
            Coar.Generator.Prepare(new ImagePrompt("a photo of [V] dog in [S] style", 32, 32, 5, new SamplingSettings()) { Concepts = [dog, ink] }),
            Request("a blue bird", 9, 64, 64),
        };
        var alone = requests.Select(Alone).ToList();

        // Room for 6 rows (three guided images): later images wait for earlier ones to leave.
        using var batch = new ContinuousBatch(Coar.Model, rows: 6, positions: requests.Max(r => r.Positions), maxStepTokens: 400);
        var joinAt = new[] { 0, 0, 3, 4, 9, 10 };
        var images = new BatchImage?[requests.Length];
        int next = 0;
        bool packedPrefillWithDecode = false, waited = false;
        for (int step = 0; step < 500 && (next < requests.Length || batch.Images.Count > 0); step++)
        {
            while (next < requests.Length && joinAt[next] <= step)
            {
                if (!batch.CanAdmit(requests[next]))
                {
                    waited = true;
                    break;
                }
                if (batch.Images.Any(i => i.TokensDone > 0)) packedPrefillWithDecode = true;
                images[next] = batch.Admit(requests[next]);
                next++;
            }
            int rowsBefore = batch.ActiveRows;
            var outcome = batch.Step();
            Assert.That(outcome.Failed, Is.Empty);
            if (outcome.Finished.Count > 0)
                Assert.That(batch.ActiveRows, Is.EqualTo(rowsBefore - outcome.Finished.Sum(i => i.Request.Rows)), "a finished image frees its rows at once");
        }
        Assert.That(next, Is.EqualTo(requests.Length), "every image joined");
        Assert.That(packedPrefillWithDecode, Is.True, "a prompt was prefilled in the same forward as running images' decode steps");
        Assert.That(waited, Is.True, "an image waited for rows");
        for (int i = 0; i < requests.Length; i++)
            Assert.That(images[i]!.Result!.Tokens, Is.EqualTo(alone[i]), $"image {i} (seed {requests[i].Seed})");
    }

    [Test]
    public void ARemovedImageFreesItsRowsAndTheOthersCarryOn()
    {
        var a = Request("a red apple", 1);
        var b = Request("a blue bird", 2);
        using var batch = new ContinuousBatch(Coar.Model, rows: 4, positions: 200, maxStepTokens: 200);
        var ia = batch.Admit(a);
        var ib = batch.Admit(b);
        batch.Step();
        batch.Step();
        Assert.That(batch.FreeRows, Is.Zero);
        batch.Remove(ia);
        Assert.That(batch.FreeRows, Is.EqualTo(2));
        Assert.That(batch.CanAdmit(a), Is.True);
        while (batch.Images.Count > 0) batch.Step();
        Assert.That(ib.Result!.Tokens, Is.EqualTo(Alone(b)));
        Assert.That(ia.Result, Is.Null);
    }

    [Test]
    public void AStepNeverRunsMoreTokensThanPlanned()
    {
        var r = Request("a red apple on a wooden table", 3);
        using var batch = new ContinuousBatch(Coar.Model, rows: 8, positions: 200, maxStepTokens: r.PrefillTokens + 6);
        batch.Admit(r);
        Assert.That(batch.CanAdmit(r), Is.False, "a second prefill would exceed the step's tokens");
        var step = batch.Step();
        Assert.That(step.Tokens, Is.EqualTo(r.PrefillTokens));
        Assert.That(batch.CanAdmit(r), Is.True, "beside one decoding image there is room");
        batch.Admit(r with { Seed = 4 });
        Assert.That(batch.Step().Tokens, Is.EqualTo(2 + r.PrefillTokens));
    }

    [Test]
    public void RequestsThatCanNeverFitAreRefusedNamingTheLimit()
    {
        using var batch = new ContinuousBatch(Coar.Model, rows: 2, positions: 30, maxStepTokens: 100);
        var big = Assert.Throws<ArgumentException>(() => batch.Admit(Request("a red apple", 1, 64, 64)));
        Assert.That(big!.Message, Does.Contain("positions").And.Contain("64x64"));
        using var one = new ContinuousBatch(Coar.Model, rows: 1, positions: 200, maxStepTokens: 100);
        var guided = Assert.Throws<ArgumentException>(() => one.Admit(Request("a red apple", 1, 32, 32)));
        Assert.That(guided!.Message, Does.Contain("2 KV-cache rows"));
        Assert.That(one.Admit(Request("a red apple", 1, 32, 32, cfg: 1f)), Is.Not.Null, "an unguided image takes one row");
    }

    [Test]
    public void AnImageWithNothingToDrawFailsAloneAndTheOthersFinish()
    {
        var bad = RandomConcept("[V]", 3, nan: true);
        var good = Request("a blue bird", 11);
        var broken = Coar.Generator.Prepare(new ImagePrompt("a photo of [V] dog", 64, 64, 12, new SamplingSettings()) { Concepts = [bad] });
        using var batch = new ContinuousBatch(Coar.Model, rows: 4, positions: 200, maxStepTokens: 200);
        var g = batch.Admit(good);
        batch.Step();
        batch.Admit(broken);
        var step = batch.Step();
        Assert.That(step.Failed, Has.Count.EqualTo(1));
        Assert.That(step.Failed[0].Error, Is.TypeOf<CoAR.Engine.Managed.Backends.NonFiniteLogitsException>());
        Assert.That(step.Failed[0].Error.Message, Does.Contain("seed 12"));
        Assert.That(batch.FreeRows, Is.EqualTo(2));
        while (batch.Images.Count > 0) Assert.That(batch.Step().Failed, Is.Empty);
        Assert.That(g.Result!.Tokens, Is.EqualTo(Alone(good)));
    }
}
