using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

public class ImageTokenizerCommandTests
{
    [Test]
    public void EncodeThenDecodeWritesCodesAndAPng()
    {
        string dir = TinyModels.NewTempDir("codec");
        var pixels = Enumerable.Range(0, 200 * 150 * 3).Select(i => (byte)(i * 7)).ToArray();
        string input = Path.Combine(dir, "in.png");
        ImageFile.SavePng(new RgbImage(200, 150, pixels), input);
        string codes = Path.Combine(dir, "codes.json"), output = Path.Combine(dir, "out.png");
        var (code, text, error) = CliHarness.Run("encode", input, "--model", TinyModels.Default, "--resolution", "256", "--device", "cpu", "--out", codes);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), text + error);
        using var json = JsonDocument.Parse(File.ReadAllText(codes));
        int lw = json.RootElement.GetProperty("latent_width").GetInt32(), lh = json.RootElement.GetProperty("latent_height").GetInt32();
        Assert.That(lw * 16, Is.EqualTo(json.RootElement.GetProperty("width").GetInt32()));
        Assert.That(json.RootElement.GetProperty("codes").GetArrayLength(), Is.EqualTo(lw * lh));
        Assert.That(json.RootElement.GetProperty("tokens").GetArrayLength(), Is.EqualTo(3 + lh * (lw + 1) + 2));

        (code, text, error) = CliHarness.Run("decode", codes, "--model", TinyModels.Default, "--device", "cpu", "--out", output);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), text + error);
        var decoded = ImageFile.Load(output);
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((lw * 16, lh * 16)));
    }

    [Test]
    public void DecodingAGenerateSidecarReproducesItsPng()
    {
        string dir = TinyModels.NewTempDir("sidecar");
        Assert.That(CliHarness.Run("generate", "--model", TinyModels.Default, "--prompt", "x", "--size", "64", "--device", "cpu", "--out", dir).ExitCode,
            Is.EqualTo(ExitCodes.Ok));
        string again = Path.Combine(dir, "again.png");
        var (code, text, error) = CliHarness.Run("decode", Path.Combine(dir, "00000-000.json"), "--model", TinyModels.Default, "--device", "cpu", "--out", again);
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), text + error);
        Assert.That(File.ReadAllBytes(again), Is.EqualTo(File.ReadAllBytes(Path.Combine(dir, "00000-000.png"))));
    }

    [Test]
    public void ACodesFileWithoutCodesIsNamed()
    {
        string dir = TinyModels.NewTempDir("badcodes");
        string codes = Path.Combine(dir, "c.json");
        File.WriteAllText(codes, """{"something": 1}""");
        var (code, _, error) = CliHarness.Run("decode", codes, "--model", TinyModels.Default, "--device", "cpu", "--out", Path.Combine(dir, "x.png"));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("c.json").And.Contain("expected 'tokens'"));
    }
}
