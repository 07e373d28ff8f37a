using System.CommandLine;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Managed.Imaging;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar encode IMAGE --out codes.json` and `coar decode codes.json --out image.png`: the VQGAN image tokenizer alone.</summary>
public static class EncodeCommand
{
    public static Command CreateEncode()
    {
        var image = new Argument<string>("image") { Description = "A JPEG, PNG, WebP, BMP or GIF (EXIF orientation and colour profiles are applied)" };
        var model = ModelOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var resolution = new Option<int>("--resolution") { Description = "Target resolution: the image is cropped to the best Lumina size for it", DefaultValueFactory = _ => 768 };
        var device = DeviceOption.Create();
        var output = new Option<string>("--out", "-o") { Description = "The codes file to write (.json)", Required = true };
        var cmd = new Command("encode", "Encode an image into VQGAN codes and image tokens (the model's view of it).");
        cmd.Arguments.Add(image);
        foreach (var o in new Option[] { model, vqgan, resolution, device, output }) cmd.Options.Add(o);
        cmd.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string dir = ModelOption.Resolve(parse.GetValue(model));
            var ids = Ids(dir);
            using var backend = DeviceOption.Open(parse.GetValue(device)!);
            using var vq = VqganModel.Load(parse.GetValue(vqgan) ?? dir, backend);
            string imagePath = parse.GetValue(image)!;
            var input = ImagePreprocessor.Preprocess(ImageFile.Load(imagePath), parse.GetValue(resolution), sourceName: imagePath);
            var codes = vq.Encode(input);
            var layout = ImageLayout.For(input.Width, input.Height, ids);
            CodesFile.Write(parse.GetValue(output)!, layout, codes);
            AnsiConsole.Console.MarkupLine($"{input.Width}x{input.Height}: {layout.LatentHeight}x{layout.LatentWidth} codes written to {Markup.Escape(parse.GetValue(output)!)}");
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    public static Command CreateDecode()
    {
        var codes = new Argument<string>("codes") { Description = "A codes file from `coar encode`, or a `coar generate` sidecar" };
        var model = ModelOption.Create();
        var vqgan = new Option<string?>("--vqgan") { Description = "Directory of vqgan.safetensors + vqgan.json (default: the model directory)" };
        var device = DeviceOption.Create();
        var output = new Option<string>("--out", "-o") { Description = "The PNG to write", Required = true };
        var cmd = new Command("decode", "Decode VQGAN codes or image tokens into a PNG.");
        cmd.Arguments.Add(codes);
        foreach (var o in new Option[] { model, vqgan, device, output }) cmd.Options.Add(o);
        cmd.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string dir = ModelOption.Resolve(parse.GetValue(model));
            var (lh, lw, values) = CodesFile.Read(parse.GetValue(codes)!, Ids(dir));
            using var backend = DeviceOption.Open(parse.GetValue(device)!);
            using var vq = VqganModel.Load(parse.GetValue(vqgan) ?? dir, backend);
            int f = vq.Config.DownsampleFactor;
            float[] decoded;
            try
            {
                decoded = vq.Decode(values, lh, lw);
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"{parse.GetValue(codes)}: {e.Message}");
            }
            var image = ImagePostprocessor.FromDecoderOutput(decoded, lw * f, lh * f);
            ImageFile.SavePng(image, parse.GetValue(output)!);
            AnsiConsole.Console.MarkupLine($"{image.Width}x{image.Height} image written to {Markup.Escape(parse.GetValue(output)!)}");
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    /// <summary>The image token ids named by the model's vocabulary (config.json's vocabulary_map).</summary>
    private static ImageTokenIds Ids(string modelDir)
    {
        var config = ChameleonConfig.Load(Path.Combine(modelDir, "config.json"));
        return config.VocabularyMap.Count > 0
            ? new ChameleonVocabulary(config.VocabularyMap, Path.Combine(modelDir, "config.json")).ToImageTokenIds()
            : ImageTokenIds.Chameleon;
    }
}
