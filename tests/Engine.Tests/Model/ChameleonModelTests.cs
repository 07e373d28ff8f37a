using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Model;

public class ChameleonModelTests
{
    private static readonly int[] Prompt = [0, 8900, 8950, 8990, 8710, 8197, 8804 + 2, 8804 + 3, 4, 5, 8195, 8803];

    private static float[] Logits(ChameleonModel model, ForwardBatch batch, KvCache cache)
    {
        var t = model.Forward(batch, cache);
        var a = new float[t.ElementCount];
        model.Backend.Download<float>(t, a);
        return a;
    }

    private static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    [Test]
    public void LogitsMatchFloat64Reference()
    {
        var naive = new NaiveChameleon(TinyModels.Default).LastLogits(Prompt);
        using var model = ChameleonModel.Load(TinyModels.Default, new CpuBackend());
        using var cache = model.CreateCache(1, Prompt.Length);
        var logits = Logits(model, ForwardBatch.Single(Prompt), cache);
        double maxLogit = naive.Max(Math.Abs);
        Assert.That(maxLogit, Is.GreaterThan(0.5), "the tiny model's logits are not degenerate");
        for (int i = 0; i < logits.Length; i++)
            Assert.That(logits[i], Is.EqualTo(naive[i]).Within(2e-4 * (1 + maxLogit)), $"logit {i}");
    }

    [Test]
    public void SwinNormVariantMatchesFloat64Reference()
    {
        string dir = TinyModels.Get("swin", TinyModels.Small with { SwinNorm = true });
        var naive = new NaiveChameleon(dir).LastLogits(Prompt);
        using var model = ChameleonModel.Load(dir, new CpuBackend());
        Assert.That(model.Config.SwinNorm, Is.True);
        using var cache = model.CreateCache(1, Prompt.Length);
        var logits = Logits(model, ForwardBatch.Single(Prompt), cache);
        double maxLogit = naive.Max(Math.Abs);
        for (int i = 0; i < logits.Length; i++)
            Assert.That(logits[i], Is.EqualTo(naive[i]).Within(2e-4 * (1 + maxLogit)), $"logit {i}");
    }

    [Test]
    public void QkNormWithOneRowPerHeadGroupMatchesReference()
    {
        // G = 2 norm rows for 4 heads: heads 0,1 use row 0 and heads 2,3 row 1.
        string dir = TinyModels.Get("qk-groups", TinyModels.Small with { QkNormGroups = 2 });
        var naive = new NaiveChameleon(dir).LastLogits(Prompt);
        using var model = ChameleonModel.Load(dir, new CpuBackend());
        using var cache = model.CreateCache(1, Prompt.Length);
        var logits = Logits(model, ForwardBatch.Single(Prompt), cache);
        double maxLogit = naive.Max(Math.Abs);
        for (int i = 0; i < logits.Length; i++)
            Assert.That(logits[i], Is.EqualTo(naive[i]).Within(2e-4 * (1 + maxLogit)), $"logit {i}");
    }

    [Test]
    public void PrefillAndStepByStepDecodeAgree()
    {
        using var model = ChameleonModel.Load(TinyModels.Default, new CpuBackend());
        using var prefillCache = model.CreateCache(1, Prompt.Length);
        var prefill = Logits(model, ForwardBatch.Single(Prompt), prefillCache);

        using var stepCache = model.CreateCache(1, Prompt.Length);
        float[] step = [];
        for (int i = 0; i < Prompt.Length; i++)
            step = Logits(model, ForwardBatch.Single(Prompt.AsSpan(i, 1), start: i), stepCache);
        Assert.That(MaxAbsDiff(prefill, step), Is.LessThan(1e-4), "prefill vs token-by-token decode");

        // A prefix then the rest in one chunk also agrees.
        using var chunkCache = model.CreateCache(1, Prompt.Length);
        Logits(model, ForwardBatch.Single(Prompt.AsSpan(0, 5)), chunkCache);
        var chunked = Logits(model, ForwardBatch.Single(Prompt.AsSpan(5), start: 5), chunkCache);
        Assert.That(MaxAbsDiff(prefill, chunked), Is.LessThan(1e-4), "prefill vs two chunks");
    }

    [Test]
    public void RowsOfDifferentLengthsGetTheirSoloLogits()
    {
        using var model = ChameleonModel.Load(TinyModels.Default, new CpuBackend());
        int[][] rows = [Prompt, Prompt[..3], [0, 8197, 8806, 8806, 17], [9500]];
        var solo = rows.Select(r =>
        {
            using var c = model.CreateCache(1, r.Length);
            return Logits(model, ForwardBatch.Single(r), c);
        }).ToArray();
        using var cache = model.CreateCache(rows.Length, Prompt.Length + 1);
        var batched = Logits(model, ForwardBatch.Packed(rows), cache);
        int v = model.Config.VocabSize;
        for (int r = 0; r < rows.Length; r++)
            Assert.That(MaxAbsDiff(batched.AsSpan(r * v, v), solo[r]), Is.LessThan(1e-4), $"row {r}");

        // Then one decode step for every row at once (lock-step decode) matches each row's own next step.
        int[] next = [100, 200, 300, 400];
        var starts = rows.Select(r => r.Length).ToArray();
        var step = Logits(model, ForwardBatch.Packed(next.Select(t => new[] { t }).ToArray(), starts), cache);
        for (int r = 0; r < rows.Length; r++)
        {
            using var c = model.CreateCache(1, rows[r].Length + 1);
            var alone = Logits(model, ForwardBatch.Single([.. rows[r], next[r]]), c);
            Assert.That(MaxAbsDiff(step.AsSpan(r * v, v), alone), Is.LessThan(1e-4), $"decode step row {r}");
        }
    }

    [Test]
    public void ObserverSeesNamedIntermediates()
    {
        using var model = ChameleonModel.Load(TinyModels.Default, new CpuBackend());
        using var cache = model.CreateCache(1, 4);
        var seen = new List<(string Name, int[] Shape)>();
        model.Forward(ForwardBatch.Single([0, 1, 2, 3]), cache, new Recorder(seen));
        var names = seen.Select(s => s.Name).ToList();
        Assert.That(names, Does.Contain("tok_embd").And.Contain("blk.0.attn_norm").And.Contain("blk.2.out")
            .And.Contain("blk.1.q_rope").And.Contain("output_norm").And.Contain("logits"));
        Assert.That(seen.Single(s => s.Name == "blk.0.q_rope").Shape, Is.EqualTo(new[] { 4, 4, 16 }));
        Assert.That(seen.Single(s => s.Name == "logits").Shape, Is.EqualTo(new[] { 1, 65536 }));
    }

    private sealed class Recorder(List<(string, int[])> seen) : IActivationObserver
    {
        public void Observe(string name, Tensor value) => seen.Add((name, value.Shape.ToArray()));
    }

    [Test]
    public void BatchOutsideTheCacheIsRefused()
    {
        using var model = ChameleonModel.Load(TinyModels.Default, new CpuBackend());
        using var cache = model.CreateCache(1, 2);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(ForwardBatch.Single([0, 1, 2]), cache));
        Assert.That(e!.Message, Does.Contain("position 2").And.Contain("holds 2"));
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(ForwardBatch.Single([70000]), cache));
        Assert.That(e2!.Message, Does.Contain("70000").And.Contain("vocabulary"));
    }
}
