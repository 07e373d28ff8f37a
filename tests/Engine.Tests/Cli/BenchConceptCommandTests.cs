using CoAR.Engine.Cli;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>`coar bench-concept` as a user meets it: its help, and settings it cannot run with (the run itself: PlantedConceptTests).</summary>
public class BenchConceptCommandTests
{
    [Test]
    public void TheHelpSaysWhatIsMeasured()
    {
        var (code, output, error) = CliHarness.Run("bench-concept", "--help");
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), error);
        Assert.That(output, Does.Contain("NLL gap").And.Contain("KL(teacher || learned)").And.Contain("identity mask").And.Contain("--model")
            .And.Contain("textual inversion").And.Contain("PersonalAR").And.Contain("--methods"));
    }

    [TestCase("--photos", "--photos", "0")]
    [TestCase("--strength", "--strength", "NaN")]
    [TestCase("--resolution", "--resolution", "33")]
    [TestCase("--steps", "--steps", "-1")]
    [TestCase("--layers", "--layers", "4")]
    [TestCase("--slots", "--slots", "0")]
    [TestCase("--methods", "--methods", "coar,dreambooth")]
    [TestCase("--methods", "--methods", ",")]
    [TestCase("--lora-rank", "--lora-rank", "0")]
    [TestCase("--lora-lr", "--lora-lr", "NaN")]
    [TestCase("--full-lr", "--full-lr", "-1e-4")]
    [TestCase("--stage2-steps", "--stage2-steps", "0")]
    public void ASettingItCannotRunWithIsAUsageError(string option, string name, string value)
    {
        var (code, output, error) = CliHarness.Run("bench-concept", "--model", TinyModels.Default, "--device", "cpu", name, value);
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), output + error);
        Assert.That(output + error, Does.Contain(option).And.Not.Contain("internal error"));
    }

    [Test]
    public void TheCompositionWithoutCoarIsAUsageErrorNamingMethods()
    {
        var (code, output, error) = CliHarness.Run("bench-concept", "--model", TinyModels.Default, "--device", "cpu", "--methods", "textual-inversion,personalar");
        Assert.That(code, Is.EqualTo(ExitCodes.Usage), output + error);
        Assert.That(output + error, Does.Contain("--methods").And.Contain("--no-composition").And.Not.Contain("internal error"));
    }
}
