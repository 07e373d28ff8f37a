using System.Globalization;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Tensors;
using Spectre.Console;

namespace CoAR.Engine.Cli;

/// <summary>Logits of the last position for a token sequence, so the engine can be compared with other implementations.</summary>
public sealed record LogitsReport(string Device, int[] Tokens, IReadOnlyList<LogitEntry> Top, string? File, double Seconds)
{
    public static LogitsReport Run(string modelDir, int[] tokens, string device, int top, string? outputFile)
    {
        if (top < 0) throw new UsageException($"--top {top}: expected 0 or more");
        using var backend = DeviceOption.Open(device);
        using var model = ChameleonModel.Load(modelDir, backend);
        foreach (int id in tokens)
            if (id >= model.Config.VocabSize)
                throw new UsageException($"--tokens: id {id} is outside the model's vocabulary [0, {model.Config.VocabSize})");
        if (tokens.Length > model.Config.MaxPositionEmbeddings)
            throw new UsageException($"--tokens: {tokens.Length} tokens, more than the model's {model.Config.MaxPositionEmbeddings} positions");
        using var cache = model.CreateCache(1, tokens.Length);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var logitsTensor = model.Forward(ForwardBatch.Single(tokens), cache);
        var logits = new float[model.Config.VocabSize];
        backend.Download<float>(logitsTensor, logits);
        double seconds = clock.Elapsed.TotalSeconds;
        var best = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(top)
            .Select(i => new LogitEntry(i, TokenName(model.Config, i), logits[i])).ToList();
        if (outputFile is not null)
            LogitsFile.Write(outputFile, logits);
        return new LogitsReport(backend.Name, tokens, best, outputFile, seconds);
    }

    private static string? TokenName(ChameleonConfig config, int id) =>
        config.VocabularyMap.FirstOrDefault(p => p.Value == id).Key;

    public void Print()
    {
        var t = new Table().Title($"last-position logits for {Tokens.Length} tokens on {Device} ({Seconds:F2} s)")
            .AddColumn(new TableColumn("rank").RightAligned()).AddColumn(new TableColumn("id").RightAligned())
            .AddColumn("token").AddColumn(new TableColumn("logit").RightAligned());
        for (int i = 0; i < Top.Count; i++)
            t.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), Top[i].Id.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(Top[i].Token ?? ""), Top[i].Logit.ToString("F4", CultureInfo.InvariantCulture));
        AnsiConsole.Console.Write(t);
        if (File is not null) AnsiConsole.Console.MarkupLine($"all logits written to {Markup.Escape(File)}");
    }
}

public sealed record LogitEntry(int Id, string? Token, float Logit);
