using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tests.Cpu;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Training;

/// <summary>
/// With gradient accumulation the update applies exactly the gradient of the loss the step reports: every pass's
/// terms at weight 1/K, CASR once at beta, z-loss and KL included. Checked against finite differences of the reported
/// total for K = 2, with weights large enough that a term counted at the wrong weight shows.
/// </summary>
public class AccumulationGradientTests
{
    [Test]
    public void TheAppliedGradientIsTheGradientOfTheReportedLossForTwoPasses()
    {
        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512));
        var ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        var layout = ImageLayout.For(64, 32, ids);
        var rng = new Random(11);
        TrainingExample Image(string name) => TrainingExample.FromCodes(name, layout, Enumerable.Range(0, 8).Select(_ => rng.Next(8192)).ToArray());
        List<TrainingExample> subject = [Image("a"), Image("b"), Image("c")];
        List<TrainingExample> classImages = [Image("k0"), Image("k1"), Image("k2")];
        var settings = new TrainingSettings
        {
            ClassNoun = "dog", Depth = 2, Resolution = 64, Accumulation = 2, ClassImages = 3,
            Alpha = 0.7f, Lambda1 = 0.6f, Lambda2 = 0.9f, BetaCasr = 0.3f, ZLossWeight = 2e-3f, WarmupSteps = 0,
        };
        using var trainer = new ConceptTrainer(engine, settings, subject, classImages);
        trainer.Initialize();
        trainer.Train(2); // off the CASR mean, so its gradient is not zero
        const int step = 2;
        var c = trainer.Concept;
        var (analytic, losses) = trainer.Gradient(step);
        Assert.That(losses.Casr, Is.GreaterThan(0), "CASR contributes");
        Assert.That(losses.DppKl, Is.GreaterThan(0), "the KL term contributes");

        double Loss(double[] x)
        {
            for (int i = 0; i < c.Text.Length; i++) c.Text[i] = (float)x[i];
            for (int i = 0; i < c.Image.Length; i++) c.Image[i] = (float)x[c.Text.Length + i];
            return trainer.Gradient(step).Losses.Total;
        }
        double[] x0 = [.. c.Text.Select(v => (double)v), .. c.Image.Select(v => (double)v)];
        var result = GradCheck.AssertMatches("accumulated gradient (K = 2)", x0, Loss, analytic.Select(g => (double)g).ToArray(),
            new GradCheck.Options { MaxElements = 24, RelativeTolerance = 3e-2, ScaleTolerance = 3e-3, Seed = 5 });
        TestContext.Out.WriteLine(result);
    }
}
