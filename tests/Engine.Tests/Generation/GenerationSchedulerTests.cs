using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Backends;
using NUnit.Framework;
using static CoAR.Engine.Tests.Generation.GenerationEngine;

namespace CoAR.Engine.Tests.Generation;

/// <summary>The scheduler's worker thread under concurrent callers: independence, cancellation, limits, failures. Every wait is bounded.</summary>
public class GenerationSchedulerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private static ImagePrompt Prompt(string caption, ulong seed, int w = 64, int h = 64, float cfg = 4f) =>
        new(caption, w, h, seed, new SamplingSettings(cfg, 2000, 1f));

    private static GenerationScheduler Scheduler(int images, int maxQueued = 64, int size = 96) =>
        Coar.CreateScheduler(Coar.PlanScheduler(size, size, maxPromptTokens: 64, maxImages: images), maxQueued);

    private static T Wait<T>(Task<T> task) =>
        task.Wait(Limit) ? task.Result : throw new TimeoutException($"no result within {Limit.TotalSeconds} s");

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            Thread.Sleep(10);
        }
    }

    [Test]
    public void ConcurrentCallersGetTheImagesTheyGetAlone()
    {
        var prompts = new[]
        {
            Prompt("a red apple", 1), Prompt("a red apple", 2, 96, 64), Prompt("a small house", 3, 32, 64, cfg: 1f),
            Prompt("a blue bird", 4, 64, 32, cfg: 2f), Prompt("a blue bird", 5), Prompt("a tree", 6, 96, 96),
            Prompt("a tree", 7, 32, 32), Prompt("a boat", 8),
        };
        var alone = prompts.Select(p => Coar.Generate([p])[0]).ToList();
        using var scheduler = Scheduler(images: 3);
        var tasks = prompts.Select((p, i) => Task.Run(async () =>
        {
            await Task.Delay(15 * i);
            return await scheduler.SubmitAsync(p);
        })).ToArray();
        Assert.That(Task.WaitAll(tasks, Limit), Is.True, "every image finished in time");
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.That(tasks[i].Result.Tokens, Is.EqualTo(alone[i].Tokens), $"image {i}: tokens");
            Assert.That(tasks[i].Result.Image.Pixels, Is.EqualTo(alone[i].Image.Pixels), $"image {i}: pixels");
        }
        var stats = scheduler.Stats();
        Assert.That(stats.ImagesCompleted, Is.EqualTo(prompts.Length));
        Assert.That(stats.ActiveRows, Is.Zero);
        Assert.That(stats.Steps, Is.LessThan(prompts.Sum(p => ImageLayout.For(p.Width, p.Height).BodyLength)), "images shared steps");
    }

    [Test]
    public void CancellingARunningImageFreesItsRowsAndTheWorkerCarriesOn()
    {
        using var scheduler = Scheduler(images: 2);
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress<ImageProgress>(p => { if (p.Stage == ImageStage.Running && p.TokensDone >= 3) cts.Cancel(); });
        var task = scheduler.SubmitAsync(Prompt("a red apple", 1, 96, 96), progress, cts.Token);
        var e = Assert.Throws<AggregateException>(() => task.Wait(Limit));
        Assert.That(e!.InnerException, Is.InstanceOf<OperationCanceledException>());
        WaitUntil(() => scheduler.Stats() is { ActiveRows: 0, ImagesCancelled: 1 }, "the cancelled image's rows are free");
        Assert.That(Wait(scheduler.SubmitAsync(Prompt("a blue bird", 2))).Tokens, Is.EqualTo(Coar.Generate([Prompt("a blue bird", 2)])[0].Tokens));
    }

    [Test]
    public void AQueuedImageCancelledBeforeItRunsLeavesTheQueue()
    {
        using var scheduler = Scheduler(images: 1);
        var running = scheduler.SubmitAsync(Prompt("a red apple", 1, 96, 96));
        WaitUntil(() => scheduler.Stats().ActiveImages == 1, "the first image runs");
        using var cts = new CancellationTokenSource();
        var waiting = scheduler.SubmitAsync(Prompt("a blue bird", 2, 96, 96), cancellation: cts.Token);
        cts.Cancel();
        Assert.That(waiting.IsCanceled, Is.True, "cancelled while queued: at once");
        Assert.That(scheduler.Stats().QueuedImages, Is.Zero);
        Assert.That(Wait(running).Tokens, Has.Length.EqualTo(ImageLayout.For(96, 96).SequenceLength));
    }

    [Test]
    public void AFullQueueAndAClosedSchedulerRefuse()
    {
        using var scheduler = Scheduler(images: 1, maxQueued: 2);
        var full = Assert.Throws<SchedulerFullException>(() => scheduler.Submit([Prompt("a", 1), Prompt("b", 2), Prompt("c", 3)]));
        Assert.That(full!.Capacity, Is.EqualTo(2));
        var first = scheduler.SubmitAsync(Prompt("a red apple", 1));
        scheduler.Close();
        Assert.Throws<SchedulerClosedException>(() => scheduler.SubmitAsync(Prompt("a red apple", 2)));
        Assert.That(Wait(first).Prompt.Seed, Is.EqualTo(1), "a closed scheduler finishes what it accepted");
        Assert.That(scheduler.Idle.Wait(Limit), Is.True, "and then goes idle");
    }

    [Test]
    public void ABrokenImageFailsAloneAndTheOthersFinish()
    {
        using var scheduler = Scheduler(images: 3);
        var broken = Prompt("a photo of [V] dog", 1) with { Concepts = [RandomConcept("[V]", 1, nan: true)] };
        var tasks = scheduler.Submit([Prompt("a red apple", 1), broken, Prompt("a blue bird", 2)]);
        Assert.That(Task.WhenAll(tasks).ContinueWith(_ => 0).Wait(Limit), Is.True);
        Assert.That(tasks[1].Exception!.InnerException, Is.TypeOf<NonFiniteLogitsException>());
        Assert.That(tasks[0].Result.Tokens, Is.EqualTo(Coar.Generate([Prompt("a red apple", 1)])[0].Tokens));
        Assert.That(tasks[2].IsCompletedSuccessfully, Is.True);
        Assert.That(scheduler.Stats().ImagesFailed, Is.EqualTo(1));
    }

    [Test]
    public void PromptsBeyondThePlanAreRefusedNamingTheLimit()
    {
        using var scheduler = Scheduler(images: 1, size: 64);
        var big = Assert.Throws<ArgumentException>(() => scheduler.SubmitAsync(Prompt("a red apple", 1, 96, 64)));
        Assert.That(big!.Message, Does.Contain("96x64").And.Contain("64x64"));
        var bad = Assert.Throws<ArgumentException>(() => scheduler.SubmitAsync(Prompt("a photo of [V] dog", 1)));
        Assert.That(bad!.Message, Does.Contain("[V]"));
        var words = string.Join(" ", Enumerable.Repeat("apple", 200));
        var longPrompt = Assert.Throws<ArgumentException>(() => scheduler.SubmitAsync(Prompt(words, 1)));
        Assert.That(longPrompt!.Message, Does.Contain("tokens").And.Contain("64"));
        Assert.That(scheduler.Stats().QueuedImages, Is.Zero);
    }
}
