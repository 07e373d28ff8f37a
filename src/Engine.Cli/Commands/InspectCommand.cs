using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using Spectre.Console;

namespace CoAR.Engine.Cli.Commands;

/// <summary>`coar inspect`: a checkpoint's config, parameters and memory needs; optionally the logits for given tokens.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = ModelOption.Create();
        var batch = new Option<int>("--batch") { Description = "Images generated together, for the memory estimate", DefaultValueFactory = _ => 1 };
        var size = new Option<string>("--size") { Description = "Image size for the memory estimate: 768 or WxH", DefaultValueFactory = _ => "768" };
        var noCfg = new Option<bool>("--no-cfg") { Description = "Estimate memory without the unconditional (CFG) rows" };
        var logits = new Option<bool>("--logits") { Description = "Run the model on --tokens and report the last position's logits" };
        var tokens = new Option<string?>("--tokens") { Description = "Token ids for --logits, e.g. 0,8197,8804" };
        var top = new Option<int>("--top") { Description = "How many of the largest logits to print", DefaultValueFactory = _ => 10 };
        var output = new Option<string?>("--out") { Description = "Write all logits of the last position to this file (.npy float32, or .json)" };
        var device = DeviceOption.Create();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON" };

        var cmd = new Command("inspect", "Summarize a Lumina-mGPT / Chameleon checkpoint: config, parameters by group, dtypes, memory; with --logits, run tokens through it.");
        foreach (var o in new Option[] { model, batch, size, noCfg, logits, tokens, top, output, device, json }) cmd.Options.Add(o);
        cmd.SetAction(parse => CommandRunner.Run(parse, () =>
        {
            string dir = ModelOption.Resolve(parse.GetValue(model));
            var (w, h) = CliParsing.ImageSize(parse.GetValue(size)!);
            int images = parse.GetValue(batch);
            if (images <= 0) throw new UsageException($"--batch {images}: expected a positive number of images");
            var report = ModelReport.Build(dir, images, w, h, !parse.GetValue(noCfg));
            LogitsReport? logitReport = null;
            if (parse.GetValue(logits))
            {
                string tokenText = parse.GetValue(tokens) ?? throw new UsageException("--logits needs --tokens, e.g. --tokens 0,8197,8804");
                logitReport = LogitsReport.Run(dir, CliParsing.TokenIds(tokenText), parse.GetValue(device)!, parse.GetValue(top), parse.GetValue(output));
            }
            else if (parse.GetValue(tokens) is not null || parse.GetValue(output) is not null)
            {
                throw new UsageException("--tokens and --out go with --logits");
            }
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { model = report, logits = logitReport }, CliJson.Options));
            else
            {
                report.Print();
                logitReport?.Print();
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
