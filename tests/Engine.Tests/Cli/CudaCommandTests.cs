using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Managed.Conformance;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Conformance;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>
/// `coar generate` and `coar train` with <c>--device cuda</c> (a GPU, or the CoAR CUDA stand-in) against the same runs
/// on the CPU, on <see cref="TinyModels.Cuda"/>: image tokens the CPU would draw (<see cref="GuidedTokensCheck"/>) and
/// their pixels, and a concept trained to nearly the same values. The results name the device they ran on.
/// </summary>
[NonParallelizable]
public class CudaCommandTests
{
    [Test]
    public void GenerateOnCudaDrawsTheCpusImage()
    {
        using (CudaTestBackend.CreateOrIgnore()) { }
        string work = TinyModels.NewTempDir("cuda-generate");
        const string caption = "a red apple on a wooden table";
        string[] Args(string device) =>
            ["generate", "--model", TinyModels.Cuda, "--prompt", caption, "--size", "64x32", "--top-k", "1", "--cfg", "3", "--seed", "11",
             "--device", device, "--out", Path.Combine(work, device)];

        var (cpuCode, cpuOutput, cpuError) = CliHarness.Run(Args("cpu"));
        Assert.That(cpuCode, Is.EqualTo(ExitCodes.Ok), cpuOutput + cpuError);
        var (code, output, error) = CliHarness.Run(Args("cuda"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);

        using var cpuSidecar = JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "cpu", "00000-000.json")));
        using var sidecar = JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "cuda", "00000-000.json")));
        var root = sidecar.RootElement;
        foreach (var same in new[] { "prompt", "seed", "width", "height", "cfg", "top_k", "prompt_tokens", "model_fingerprint" })
            Assert.That(root.GetProperty(same).ToString(), Is.EqualTo(cpuSidecar.RootElement.GetProperty(same).ToString()), same);
        string device = root.GetProperty("device").GetString()!;
        Assert.That(device, Does.StartWith("cuda:0"));
        if (CudaStandIn.IsLoaded)
            Assert.That(device, Does.Contain("stand-in"), "a result of the stand-in says so");

        using var cpuEngine = CoarEngine.Load(new EngineParams(TinyModels.Cuda, "cpu"));
        using var cudaEngine = CoarEngine.Load(new EngineParams(TinyModels.Cuda, "cuda"));
        var layout = ImageLayout.For(64, 32);
        var tokens = root.GetProperty("image_tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        var cpuTokens = cpuSidecar.RootElement.GetProperty("image_tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        TestContext.Out.WriteLine($"{tokens.Zip(cpuTokens).Count(p => p.First == p.Second)} of {tokens.Length} image tokens as on the CPU");
        GuidedTokensCheck.AssertTheCpusUpToNearTies(cpuEngine.Prompt.Build(caption, 64, 32).Ids, tokens, layout, 3f, cpuEngine.Model,
            cudaEngine.Model, "the CUDA run's image");

        // The CUDA run's PNG is its tokens through the VQGAN (fp32 on both backends): the CPU's pixels up to rounding.
        var expected = ImagePostprocessor.FromDecoderOutput(cpuEngine.Vqgan.Decode(layout.Codes(tokens), layout.LatentHeight, layout.LatentWidth), 64, 32);
        var image = ImageFile.Load(Path.Combine(work, "cuda", "00000-000.png"));
        Assert.That((image.Width, image.Height), Is.EqualTo((64, 32)));
        int worst = expected.Pixels.Zip(image.Pixels, (a, b) => Math.Abs(a - b)).Max();
        Assert.That(worst, Is.LessThanOrEqualTo(1), "largest pixel difference");
    }

    [Test]
    public void TrainOnCudaLearnsTheCpuConcept()
    {
        using (CudaTestBackend.CreateOrIgnore()) { }
        string work = TinyModels.NewTempDir("cuda-train");
        string photos = TrainCommandTests.Photos();
        // Both runs train in one directory. The class-image cache is keyed by backend, because a device can draw other
        // tokens (near-ties in bf16 logits sample differently). So the CUDA run first draws its own class image; the
        // test then puts the CPU's tokens in its place, so that the compared runs learn from the same data.
        string[] Args(string device, int steps, string name) =>
            ["train", "--model", TinyModels.Cuda, "--images", photos, "--class", "dog", "--steps", $"{steps}", "--layers", "2",
             "--resolution", "64", "--class-images", "1", "--device", device, "--json", "--out", Path.Combine(work, name)];
        string classImages = Path.Combine(work, "class-images");

        var (cpuCode, cpuOutput, cpuError) = CliHarness.Run(Args("cpu", 2, "cpu.safetensors"));
        Assert.That(cpuCode, Is.EqualTo(ExitCodes.Ok), cpuOutput + cpuError);
        Assert.That(cpuOutput, Does.Contain("generating 1 class image(s)"));
        string cpuClassImage = Directory.GetFiles(classImages, "000.json", SearchOption.AllDirectories).Single();

        var (drawCode, drawOutput, drawError) = CliHarness.Run(Args("cuda", 1, "cuda-draw.safetensors"));
        Assert.That(drawCode, Is.EqualTo(ExitCodes.Ok), drawOutput + drawError);
        Assert.That(drawOutput, Does.Contain("generating 1 class image(s)"), "the CUDA run draws its own class image");
        string cudaClassImage = Directory.GetFiles(classImages, "000.json", SearchOption.AllDirectories).Single(f => f != cpuClassImage);
        File.Copy(cpuClassImage, cudaClassImage, overwrite: true);

        var (code, output, error) = CliHarness.Run(Args("cuda", 2, "cuda.safetensors"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Not.Contain("generating"), "the CUDA run reuses its (now the CPU's) class image");

        var expected = ConceptFile.Load(Path.Combine(work, "cpu.safetensors")).Concept;
        var actual = ConceptFile.Load(Path.Combine(work, "cuda.safetensors")).Concept;
        float[] want = [.. expected.Text, .. expected.Image], got = [.. actual.Text, .. actual.Image];
        Assert.That(got.All(float.IsFinite), Is.True, "NaN or Inf in the concept trained on CUDA");
        // The initial tokens (mean hidden states) in bf16 against fp32, then two AdamW steps of lr 1e-2 each.
        Assert.That(ConformanceRunner.Nmse(want, got), Is.LessThan(1e-3), "concept values");

        using var cpuSummary = JsonDocument.Parse(Summary(cpuOutput));
        using var summary = JsonDocument.Parse(Summary(output));
        double cpuLoss = cpuSummary.RootElement.GetProperty("total").GetDouble(), loss = summary.RootElement.GetProperty("total").GetDouble();
        Assert.That(loss, Is.EqualTo(cpuLoss).Within(2).Percent, "final loss");
        Assert.That(summary.RootElement.GetProperty("device").GetString(), Does.StartWith("cuda:0"));
    }

    private static int[] TokensOf(JsonDocument sidecar) =>
        sidecar.RootElement.GetProperty("image_tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();

    /// <summary>The --json summary: the indented object that ends the output.</summary>
    private static string Summary(string output) => output[output.LastIndexOf("\n{", StringComparison.Ordinal)..];
}
