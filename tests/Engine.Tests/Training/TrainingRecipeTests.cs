using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

/// <summary>
/// The settings a run is made of: checked before any work, made concrete for the model, and the optimizer recipe's
/// pieces (schedule, decoupled decay on chosen tokens, clipping) as Lumina-mGPT's fine-tuning code computes them.
/// </summary>
public class TrainingRecipeTests
{
    private static CoarEngine? _engine;
    private static CoarEngine Engine => _engine ??= CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));

    [OneTimeTearDown]
    public void TearDown() => _engine?.Dispose();

    private static TrainingSettings Dog => new() { ClassNoun = "dog" };

    [Test]
    public void DefaultsFollowThePapersSentenceAndLuminasRecipe()
    {
        var s = Dog;
        Assert.Multiple(() =>
        {
            Assert.That(s.LearningRate, Is.EqualTo(1e-2f), "the paper's lr");
            Assert.That(s.Accumulation, Is.EqualTo(1), "the paper's batch 1");
            Assert.That((s.Beta1, s.Beta2), Is.EqualTo((0.9f, 0.95f)), "Lumina's AdamW betas");
            Assert.That(s.WeightDecay, Is.EqualTo(0.1f), "Lumina's 7B script");
            Assert.That(s.DecayedTokens, Is.EqualTo(DecayedTokens.All), "Lumina decays every trained parameter");
            Assert.That(s.GradientClip, Is.EqualTo(4f));
            Assert.That(s.Schedule, Is.EqualTo(LearningRateSchedule.Constant), "the 7B script's min_lr equals its lr");
            Assert.That(s.ZLossWeight, Is.EqualTo(1e-5f));
            Assert.That(s.Crop, Is.EqualTo(CropMode.Random));
            Assert.That(s.EffectiveDepth, Is.EqualTo(9));
            Assert.That(TrainingSettings.ForStyle("ink").EffectiveDepth, Is.EqualTo(3));
        });
    }

    [Test]
    public void ADefaultDepthDeeperThanTheModelIsClampedWithANote()
    {
        var (s, notes) = Dog.Resolve(Engine.Model.Config, Engine.Prompt);
        Assert.That(s.Depth, Is.EqualTo(3));
        Assert.That(s.Resolution, Is.EqualTo(512), "the resolution defaults to the engine's target size");
        Assert.That(notes, Has.One.Contains("depth 9").And.Contains("3 layers"));
    }

    [Test]
    public void AnExplicitDepthBeyondTheModelIsRefusedNamingTheLayerCount()
    {
        var e = Assert.Throws<TrainingSettingException>(() => (Dog with { Depth = 4 }).Resolve(Engine.Model.Config, Engine.Prompt));
        Assert.That(e!.Setting, Is.EqualTo(nameof(TrainingSettings.Depth)));
        Assert.That(e.Reason, Does.Contain("depth 4").And.Contain("3 layers"));
    }

    private static IEnumerable<TestCaseData> BadSettings()
    {
        TestCaseData Case(string setting, Func<TrainingSettings, TrainingSettings> change) => new TestCaseData(setting, change).SetArgDisplayNames(setting);
        yield return Case("Steps", s => s with { Steps = 0 });
        yield return Case("Depth", s => s with { Depth = -1 });
        yield return Case("Resolution", s => s with { Resolution = 33 });
        yield return Case("Resolution", s => s with { Resolution = 1024 }); // beyond the engine's 512 target
        yield return Case("LearningRate", s => s with { LearningRate = float.NaN });
        yield return Case("LearningRate", s => s with { LearningRate = -1 });
        yield return Case("LearningRate", s => s with { LearningRate = float.PositiveInfinity });
        yield return Case("Beta1", s => s with { Beta1 = 1 });
        yield return Case("Beta2", s => s with { Beta2 = float.NaN });
        yield return Case("AdamEps", s => s with { AdamEps = 0 });
        yield return Case("WeightDecay", s => s with { WeightDecay = -0.1f });
        yield return Case("WeightDecay", s => s with { WeightDecay = 200 }); // lr x decay >= 1 flips the tokens
        yield return Case("DecayedTokens", s => s with { DecayedTokens = (DecayedTokens)9 });
        yield return Case("GradientClip", s => s with { GradientClip = -4 });
        yield return Case("WarmupSteps", s => s with { WarmupSteps = -1 });
        yield return Case("MinLearningRate", s => s with { MinLearningRate = 1 });
        yield return Case("ZLossWeight", s => s with { ZLossWeight = float.NegativeInfinity });
        yield return Case("Alpha", s => s with { Alpha = float.NaN });
        yield return Case("ClassImages", s => s with { ClassImages = 0 });
        yield return Case("Accumulation", s => s with { Accumulation = 0 });
        yield return Case("Seed", s => s with { Seed = -3 });
        yield return Case("CheckpointEvery", s => s with { CheckpointEvery = -1 });
        yield return Case("ClassNoun", s => s with { ClassNoun = " " });
        yield return Case("ClassNoun", s => s with { ClassNoun = "[S]" }); // a reserved placeholder in the class prompt
        yield return Case("ClassNoun", s => s with { ClassNoun = "my [V]" });
        yield return Case("Placeholder", s => s with { Placeholder = "" });
        yield return Case("TextSlots", s => s with { TextSlots = 0, ImageSlots = 0 });
        yield return Case("Template", s => s with { Template = "a photo of {class}" });
        yield return Case("ValidationPrompt", s => s with { ValidationPrompt = "a dog" });
    }

    [TestCaseSource(nameof(BadSettings))]
    public void EverySettingThatCannotWorkIsNamed(string setting, Func<TrainingSettings, TrainingSettings> change)
    {
        var e = Assert.Throws<TrainingSettingException>(() => change(Dog).Resolve(Engine.Model.Config, Engine.Prompt));
        Assert.That(e!.Setting, Is.EqualTo(setting), e.Reason);
    }

    [Test]
    public void WarmupRampsUpThenTheScheduleHolds()
    {
        var s = Dog with { LearningRate = 0.01f, WarmupSteps = 4, Steps = 14 };
        Assert.That(Enumerable.Range(0, 5).Select(i => LearningRate.At(s, i)),
            Is.EqualTo(new[] { 0.002f, 0.004f, 0.006f, 0.008f, 0.01f }).Within(1e-7f));
        Assert.That(LearningRate.At(s, 13), Is.EqualTo(0.01f), "constant after the warmup");

        var cosine = s with { Schedule = LearningRateSchedule.Cosine, MinLearningRate = 0.001f };
        Assert.That(LearningRate.At(cosine, 4), Is.EqualTo(0.01f).Within(1e-7f), "the cosine starts at the peak");
        Assert.That(LearningRate.At(cosine, 9), Is.EqualTo(0.001f + 0.009f * 0.5 * (1 + Math.Cos(Math.PI * 5 / 9))).Within(1e-7f));
        Assert.That(LearningRate.At(cosine, 13), Is.EqualTo(0.001f).Within(1e-7f), "and ends at the minimum on the last step");
    }

    [Test]
    public void AdamWDecaysOnlyTheChosenTokensBeforeItsStep()
    {
        var adam = new AdamW(4, 0.9f, 0.95f, weightDecay: 0.5f, eps: 1e-8f);
        float[] p = [2, 2, 2, 2];
        adam.Update(p, new float[] { 1, 1, 1, 1 }, lr: 0.1f, decayed: 2..4);
        // Decoupled: p * (1 - lr wd) then the Adam step, which is -lr for the first update of a constant gradient.
        Assert.That(p, Is.EqualTo(new[] { 1.9f, 1.9f, 2 * 0.95f - 0.1f, 2 * 0.95f - 0.1f }).Within(1e-6f));
    }

    [Test]
    public void ClippingScalesTheWholeGradientToTheNorm()
    {
        float[] g = [3, 4, 0];
        double norm = GradientClip.Apply(g, 1f);
        Assert.That(norm, Is.EqualTo(5));
        Assert.That(g, Is.EqualTo(new[] { 0.6f, 0.8f, 0f }).Within(1e-6f));
        float[] small = [0.3f, 0.4f];
        GradientClip.Apply(small, 1f);
        Assert.That(small, Is.EqualTo(new[] { 0.3f, 0.4f }), "below the norm: untouched");
        GradientClip.Apply(g, 0f);
        Assert.That(g, Is.EqualTo(new[] { 0.6f, 0.8f, 0f }).Within(1e-6f), "0: off");
    }

    [Test]
    public void SettingsRoundTripThroughTheirJson()
    {
        var s = Dog with { Depth = 2, Resolution = 64, Schedule = LearningRateSchedule.Cosine, DecayedTokens = DecayedTokens.Text, Crop = CropMode.Center };
        string json = s.ToJson();
        Assert.That(json, Does.Contain("\"Schedule\":\"Cosine\""), "enums by name");
        Assert.That(TrainingSettings.FromJson(json), Is.EqualTo(s));
        Assert.That(s.Kind, Is.EqualTo(ConceptKind.Subject));
    }
}
