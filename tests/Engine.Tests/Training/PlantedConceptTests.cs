using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Benchmarks;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;
using static CoAR.Engine.Graph.Benchmarks.PlantedConceptBenchmark;

namespace CoAR.Engine.Tests.Training;

/// <summary>
/// The planted-concept benchmark, small, on the built-in model: what must hold whatever the model. The random model is
/// weakly conditioned and knows no image grammar, so the concept gets 4 tokens per layer (a visible effect) and NTP
/// over the codes (the grammar would take the gradient otherwise); depth 2 of 3 layers, so the third layer reads the
/// slots and the identity mask matters. LoRA and PersonalAR's stage 2 run at 10x their recipes' learning rates (1e-3,
/// 1e-4), as bench/RESULTS.md records, so that a short run on this model moves the weights. 15-20 s of CPU (64 px, 32
/// samples, two concepts of 120 steps, and both again with token-index embeddings; LoRA, textual inversion and both
/// PersonalAR stage 2s about 2 s more; about a minute of wall time on the shared 2-core VM).
/// </summary>
public class PlantedConceptTests
{
    [Test]
    public void ALearnedConceptBeatsTheFrozenModelAndComposingKeepsBothConcepts()
    {
        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));
        var settings = new PlantedConceptSettings
        {
            Resolution = 64, Photos = 32, Steps = 120, Depth = 2, Slots = 4, NtpTargets = NtpTargets.Codes, HeldOutSeeds = 6, ClassImages = 2,
            Ablation = false, IndexEmbeddings = true, LoraRank = 4, LoraLearningRate = 1e-3f, FullLearningRate = 1e-4f,
        };
        var report = PlantedConceptBenchmark.Run(engine, settings, TinyModels.NewTempDir("planted"));
        TestContext.Out.WriteLine(report.ToMarkdown());

        var frozen = report.Row(Frozen);
        var learned = report.Row(LmclDppCasr);
        Assert.That(frozen.Kl, Is.GreaterThan(0.05), "the planted concept changes the model measurably");
        Assert.That(learned.NllGap, Is.LessThan(frozen.NllGap), "(a) on held-out prompts and seeds the learned concept is closer to the teacher");
        Assert.That(learned.Kl, Is.LessThan(0.9 * frozen.Kl), "(b) by a margin in KL");
        Assert.That(report.Row(Teacher).Drift, Is.GreaterThan(0), "(c) the planted image tokens move prompts without the placeholder");
        Assert.That(report.Fidelity.Select(r => r.Variant),
            Is.EqualTo(new[] { Frozen, Teacher, LmclDppCasr, LoraQkv, TextualInversion, PersonalArFull, PersonalArLora }));
        var lora = report.Row(LoraQkv);
        Assert.That(double.IsFinite(lora.NllGap) && double.IsFinite(lora.Kl) && lora.Drift > 0, $"LoRA is scored like the concepts, its adapter on the model: {lora}");

        // Textual inversion (PersonalAR's stage 1), then stage 2 continuing its [V] with the weights on the model.
        var inverted = report.Row(TextualInversion);
        Assert.That(inverted.Kl, Is.LessThan(frozen.Kl), "the [V] embedding alone moves the model towards the teacher on new prompts");
        Assert.That(inverted.Drift, Is.LessThan(1e-9), "without [V] in the prompt a layer-0 embedding changes nothing");
        foreach (var name in new[] { PersonalArFull, PersonalArLora })
        {
            var stage2 = report.Row(name);
            Assert.That(stage2.Kl, Is.LessThan(inverted.Kl), $"{name}: stage 2 goes further than its stage 1 towards the teacher");
            Assert.That(stage2.Drift, Is.GreaterThan(0), $"{name}: the trained weights are on the model where [V] is absent too");
        }
        var config = engine.Model.Config;
        long d = config.HiddenSize, qkvWeights = config.NumLayers * d * (d + 2L * config.KvDim);
        long loraQkv = (long)config.NumLayers * 4 * (2 * d + 2 * (d + config.KvDim));
        Assert.That(report.Costs.Select(c => (c.Variant, c.Parameters)), Is.EqualTo(new[]
        {
            (LmclDppCasr, 2L * (4 + 4) * d),
            (LoraQkv, loraQkv),
            (TextualInversion, d),
            (PersonalArFull, d + qkvWeights),
            (PersonalArLora, d + loraQkv),
        }), "CoAR: depth x (text + image slots) x D; LoRA: rank (in + out) for q, k, v of every layer; textual inversion: one D vector; " +
            "PersonalAR: the [V] embedding and the weights (q, k, v of every layer, or LoRA's)");
        Assert.That(report.Costs.All(c => c.FileBytes > 4 * c.Parameters && c.StepSeconds > 0 && c.MemoryBytes > 0));
        Assert.That(report.Costs.Select(c => (c.Steps, c.LearningRate)), Is.EqualTo(new[] { (120, 1e-2f), (120, 1e-3f), (120, 1e-2f), (32, 1e-4f), (32, 1e-3f) }),
            "stage 2 runs 400/1500 of stage 1's steps; the learning rates are the settings'");

        var both = report.Row(Both, identityMask: true);
        Assert.That(both.Kl, Is.LessThan(report.Row(FirstOnly, true).Kl), "composing keeps the second concept: leaving it out is further from the teacher");
        Assert.That(both.Kl, Is.LessThan(report.Row(SecondOnly, true).Kl), "composing keeps the first concept");
        Assert.That(report.Row(Both, identityMask: false).Kl, Is.Not.EqualTo(both.Kl), "the identity mask changes the composition");
        Assert.That(report.ToMarkdown(), Does.Contain("| LMCL + DPP + CASR |").And.Contain("| both learned |").And.Contain("| LoRA (q/k/v) |")
            .And.Contain("| textual inversion |").And.Contain("| PersonalAR (TI + full q/k/v) |").And.Contain("trainable parameters")
            .And.Contain("instead of the recipe's: LoRA 1e-3 (recipe 1e-4), full weights 1e-4 (recipe 1e-5)"));
        // The composition aids, all against the masked teacher: the mask alone is the composition table's masked row.
        Assert.That(report.Aids.Select(a => (a.Variant, a.IdentityMask, a.IndexEmbeddings)),
            Is.EqualTo(new[] { (NoAid, false, false), (MaskAlone, true, false), (IndexAlone, false, true), (MaskAndIndex, true, true) }));
        var maskAlone = report.Aids.Single(a => a.Variant == MaskAlone);
        Assert.That((maskAlone.NllGap, maskAlone.Kl), Is.EqualTo((both.NllGap, both.Kl)));
        Assert.That(report.Aids.Single(a => a.Variant == IndexAlone).Kl, Is.Not.EqualTo(report.Aids.Single(a => a.Variant == NoAid).Kl),
            "the learned index embeddings change the composition");
        Assert.That(report.Aids.All(a => double.IsFinite(a.NllGap) && double.IsFinite(a.Kl)), Is.True);
        Assert.That(report.ToMarkdown(), Does.Contain("| index embeddings alone | off | on |"));
    }
}
