using System.Text.Json;
using CoAR.Engine.Cli;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Imaging;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cli;

/// <summary>`coar generate --image` and JSONL "images": reference images in the prompt, from the files to the tokens.</summary>
public class ReferenceImageCommandTests
{
    private static string[] Generate(string outDir, params string[] extra) =>
        ["generate", "--model", TinyModels.Default, "--size", "64", "--target", "512", "--seed", "5", "--batch", "1", "--device", "cpu", "--out", outDir, .. extra];

    private static string Png(string dir, string name, RgbImage image)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, ImageFile.EncodePng(image));
        return path;
    }

    [Test]
    public void TheImageIsEncodedIntoThePromptWhereItsSymbolStands()
    {
        string work = TinyModels.NewTempDir("reference");
        string photo = Png(work, "photo.png", TestImages.Gradient(120, 90));
        string outDir = Path.Combine(work, "out");
        var (code, output, error) = CliHarness.Run(Generate(outDir, "--prompt", "a cat like <|image|> on grass", "--image", photo));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(error, Does.Not.Contain("note:"), "a prompt with its symbol needs no note");
        using var sidecar = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "00000-000.json")));
        Assert.That(sidecar.RootElement.GetProperty("references")[0].GetString(), Is.EqualTo(photo));

        // The library's view of the same prompt: the VQGAN's codes of the best 512-target crop, framed as the spec says.
        using var engine = CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", null, 512));
        var reference = engine.EncodeReference(photo);
        var layout = reference.Layout;
        Assert.That((layout.WidthPx, layout.HeightPx), Is.EqualTo((576, 448)), "120x90 is 4:3: the closest 512-target crop");
        Assert.That(reference.Tokens[..3], Is.EqualTo(new[] { 8197, 8804 + 448 / 32, 8804 + 576 / 32 }));
        Assert.That(reference.Tokens[^1], Is.EqualTo(8196));
        Assert.That(layout.Codes(reference.Tokens.AsSpan(3, layout.BodyLength)),
            Is.EqualTo(engine.Vqgan.Encode(Graph.Imaging.ImagePreprocessor.Preprocess(ImageFile.Load(photo), 512))));
        var prompt = new ImagePrompt("a cat like <|image|> on grass", 64, 64, 5, new SamplingSettings()) { References = [reference] };
        var request = engine.Generator.Prepare(prompt);
        Assert.That(sidecar.RootElement.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(request.PromptTokens.Length));
        int at = Array.IndexOf(request.PromptTokens, 8197);
        Assert.That(request.PromptTokens.AsSpan(at, reference.Tokens.Length).ToArray(), Is.EqualTo(reference.Tokens));
        var generated = engine.Generate([prompt])[0];
        Assert.That(generated.Tokens, Is.EqualTo(sidecar.RootElement.GetProperty("image_tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray()),
            "the CLI and the library make the same image");
    }

    [Test]
    public void WithoutASymbolTheImagesGoFirstAndTheRunSaysSo()
    {
        string work = TinyModels.NewTempDir("reference-first");
        string photo = Png(work, "photo.png", TestImages.Gradient(64, 64));
        var (code, output, error) = CliHarness.Run(Generate(Path.Combine(work, "out"), "--prompt", "a cat", "--image", photo));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(error, Does.Contain("note: --prompt has no <|image|>: its 1 image(s) go first"));

        // The image-conditioned form: the prompt is the whole turn, no size instruction; the sidecar and the job say so.
        string bare = Path.Combine(work, "bare");
        (code, output, error) = CliHarness.Run(Generate(bare, "--prompt", "Generate an image according to the provided image:\na cat <|image|>",
            "--image", photo, "--no-instruction"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        using var with = JsonDocument.Parse(File.ReadAllText(Path.Combine(work, "out", "00000-000.json")));
        using var without = JsonDocument.Parse(File.ReadAllText(Path.Combine(bare, "00000-000.json")));
        Assert.That(without.RootElement.GetProperty("instruction").GetBoolean(), Is.False);
        Assert.That(with.RootElement.TryGetProperty("instruction", out _), Is.False);
        Assert.That(File.ReadAllText(Path.Combine(bare, "job.json")), Does.Contain("\"instruction\": false"));
    }

    [Test]
    public void JsonlLinesTakeTheirOwnImagesRelativeToTheFile()
    {
        string work = TinyModels.NewTempDir("reference-jsonl");
        Directory.CreateDirectory(Path.Combine(work, "refs"));
        Png(work, Path.Combine("refs", "a.png"), TestImages.Gradient(64, 64));
        string b = Png(work, "b.png", TestImages.Random(48, 64, 3));
        string prompts = Path.Combine(work, "prompts.jsonl");
        File.WriteAllLines(prompts,
        [
            """{"prompt": "two pictures: <|image|> and <|image|>", "images": ["refs/a.png", "b.png"], "instruction": false}""",
            """{"prompt": "like <|image|>"}""",
        ]);
        string outDir = Path.Combine(work, "out");
        var (code, output, error) = CliHarness.Run(Generate(outDir, "--prompts", prompts, "--image", b));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        string[] References(string file) => JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, file))).RootElement
            .GetProperty("references").EnumerateArray().Select(e => Path.GetFileName(e.GetString()!)).ToArray();
        Assert.That(References("00000-000.json"), Is.EqualTo(new[] { "a.png", "b.png" }));
        Assert.That(References("00001-000.json"), Is.EqualTo(new[] { "b.png" }), "a line without images takes --image");
        Assert.That(File.ReadAllText(Path.Combine(outDir, "00000-000.json")), Does.Contain("\"instruction\": false"), "the line's own instruction setting");
        Assert.That(File.ReadAllText(Path.Combine(outDir, "00001-000.json")), Does.Not.Contain("\"instruction\""));
        Assert.That(File.ReadAllText(Path.Combine(outDir, "job.json")), Does.Contain("\"references\": \"b.png:"));
    }

    [Test]
    public void ACountMismatchIsAUsageErrorNamingTheOption()
    {
        string work = TinyModels.NewTempDir("reference-count");
        string photo = Png(work, "photo.png", TestImages.Gradient(64, 64));
        var (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "a"), "--prompt", "<|image|> beside <|image|>", "--image", photo));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("--prompt holds 2 <|image|> but --image gives 1 image(s)"));
        (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "b"), "--prompt", "like <|image|>"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("--image gives 0 image(s)"));

        string prompts = Path.Combine(work, "prompts.jsonl");
        File.WriteAllText(prompts, """{"prompt": "like <|image|>", "images": []}""" + "\n");
        (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "c"), "--prompts", prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("prompt 1, field 'images' gives 0 image(s)"));
        File.WriteAllText(prompts, """{"prompt": "like <|image|>", "images": 7}""" + "\n");
        (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "d"), "--prompts", prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain(":1: field 'images' must be a path or a list"));
        File.WriteAllText(prompts, """{"prompt": "a cat", "instruction": "no"}""" + "\n");
        (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "e"), "--prompts", prompts));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain(":1: field 'instruction' must be true or false"));
        Assert.That(Directory.Exists(Path.Combine(work, "d")) ? Directory.GetFiles(Path.Combine(work, "d"), "*.png") : [], Is.Empty);
    }

    [Test]
    public void ABadImageFileIsABadInputNamingItBeforeTheModelLoads()
    {
        string work = TinyModels.NewTempDir("reference-bad");
        string garbage = Path.Combine(work, "garbage.png");
        File.WriteAllText(garbage, "not a PNG");
        var (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "a"), "--prompt", "like <|image|>", "--image", garbage));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("garbage.png: not a readable"));
        (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "b"), "--prompt", "like <|image|>", "--image", Path.Combine(work, "missing.png")));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("missing.png"));
        string strip = Png(work, "strip.png", new RgbImage(2, 200));
        (code, _, error) = CliHarness.Run(Generate(Path.Combine(work, "c"), "--prompt", "like <|image|>", "--image", strip));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("strip.png: 2x200 has an aspect ratio"));
    }
}

/// <summary>`coar train --reference`: a concept trained with a reference photo in the training prompt's context.</summary>
public class ReferenceImageTrainingTests
{
    private static string[] Train(string images, string outFile, params string[] extra) =>
        ["train", "--model", TinyModels.Default, "--images", images, "--class", "dog", "--steps", "2", "--layers", "1", "--resolution", "64",
         "--no-dpp", "--checkpoint-every", "0", "--device", "cpu", "--out", outFile, .. extra];

    private static string StepLine(string output, int step) =>
        output.Split('\n').Single(l => l.StartsWith($"step {step,5}/"));

    [Test]
    public void TheReferenceIsInTheTrainingContextAndTheConceptRecordsIt()
    {
        string work = TinyModels.NewTempDir("reference-train");
        string photos = TrainCommandTests.Photos();
        string reference = Path.Combine(work, "reference.png");
        File.WriteAllBytes(reference, ImageFile.EncodePng(TestImages.Gradient(96, 64)));
        string withReference = Path.Combine(work, "with.safetensors"), without = Path.Combine(work, "without.safetensors");

        var (code, output, error) = CliHarness.Run(Train(photos, withReference, "--reference", reference,
            "--template", "a photo of {placeholder} {class} like <|image|>", "--validate-every", "2"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
        Assert.That(output, Does.Contain("1 reference image(s) in the training prompt: " + reference + " (64x32, 14 tokens)"), "a 3:2 photo takes the 2:1 crop of a 64 px target: 2x4 codes + 2 new lines + 4");
        var (code2, output2, error2) = CliHarness.Run(Train(photos, without, "--template", "a photo of {placeholder} {class} like"));
        Assert.That(code2, Is.EqualTo(ExitCodes.Ok), output2 + error2);
        Assert.That(StepLine(output, 1), Is.Not.EqualTo(StepLine(output2, 1)), "the reference's tokens change the first step's loss");

        var info = Graph.Concepts.ConceptFile.Load(withReference);
        var stored = Graph.Training.TrainingSettings.FromJson(info.Metadata["training_settings"]);
        Assert.That(stored.References, Is.EqualTo(new[] { reference }));
        Assert.That(Graph.Training.TrainingSettings.FromJson(Graph.Concepts.ConceptFile.Load(without).Metadata["training_settings"]).References, Is.Null);
        Assert.That(File.ReadAllText(withReference.Replace(".safetensors", ".validation/step-00002.png")).Length, Is.GreaterThan(0));

        (code, output, error) = CliHarness.Run("generate", "--model", TinyModels.Default, "--concept", withReference, "--prompt", "[V] dog like <|image|>",
            "--image", reference, "--size", "64", "--target", "512", "--device", "cpu", "--out", Path.Combine(work, "images"));
        Assert.That(code, Is.EqualTo(ExitCodes.Ok), output + error);
    }

    [Test]
    public void ACountMismatchOrABadReferenceFailsCleanly()
    {
        string work = TinyModels.NewTempDir("reference-train-bad");
        string photos = TrainCommandTests.Photos();
        var (code, _, error) = CliHarness.Run(Train(photos, Path.Combine(work, "a.safetensors"), "--template", "{placeholder} {class} <|image|>"));
        Assert.That(code, Is.EqualTo(ExitCodes.Usage));
        Assert.That(error, Does.Contain("--template:").And.Contain("holds 1 <|image|> but 0 reference image(s)"));
        string garbage = Path.Combine(work, "garbage.jpg");
        File.WriteAllText(garbage, "no JPEG");
        (code, _, error) = CliHarness.Run(Train(photos, Path.Combine(work, "b.safetensors"), "--reference", garbage));
        Assert.That(code, Is.EqualTo(ExitCodes.BadInput));
        Assert.That(error, Does.Contain("garbage.jpg: not a readable"));
        Assert.That(File.Exists(Path.Combine(work, "b.safetensors")), Is.False);
    }
}
