using System.Globalization;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Tensors;
using Spectre.Console;

namespace CoAR.Engine.Cli;

/// <summary>The `coar inspect` summary of a checkpoint, for the console or as JSON.</summary>
public sealed record ModelReport(
    string Model,
    IReadOnlyList<string> Files,
    IReadOnlyDictionary<string, object> Config,
    IReadOnlyDictionary<string, long> ParametersByGroup,
    long Parameters,
    IReadOnlyDictionary<string, int> TensorsByDtype,
    int Tensors,
    long Bytes,
    IReadOnlyList<string> UnusedTensors,
    MemoryReport Memory)
{
    public static ModelReport Build(string dir, int images, int width, int height, bool cfg)
    {
        var s = CheckpointSummary.Read(dir);
        var c = s.Config;
        var config = new Dictionary<string, object>
        {
            ["hidden_size"] = c.HiddenSize, ["num_hidden_layers"] = c.NumLayers, ["num_attention_heads"] = c.NumHeads,
            ["num_key_value_heads"] = c.NumKvHeads, ["head_dim"] = c.HeadDim, ["intermediate_size"] = c.IntermediateSize,
            ["vocab_size"] = c.VocabSize, ["rms_norm_eps"] = c.RmsNormEps, ["rope_theta"] = c.RopeTheta,
            ["swin_norm"] = c.SwinNorm, ["qk_layernorm"] = c.QkLayerNorm, ["qk_norm_groups"] = s.QkNormGroups,
            ["tie_word_embeddings"] = c.TieWordEmbeddings, ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["torch_dtype"] = c.TorchDType, ["vocabulary_map_entries"] = c.VocabularyMap.Count,
        };
        const int promptTokens = 128;
        var gpu = MemoryEstimate.For(c, s.Bytes, images, width, height, cfg, promptTokens, DType.BF16);
        var cpu = MemoryEstimate.For(c, s.Bytes, images, width, height, cfg, promptTokens, DType.F32);
        var memory = new MemoryReport(images, width, height, cfg, promptTokens, gpu.Rows, gpu.TokensPerRow,
            new MemoryLine(gpu.WeightBytes, gpu.KvCacheBytes, gpu.ActivationBytes, gpu.TotalBytes),
            new MemoryLine(cpu.WeightBytes, cpu.KvCacheBytes, cpu.ActivationBytes, cpu.TotalBytes));
        return new ModelReport(Path.GetFullPath(dir), s.Files, config, s.ParametersByGroup, s.Parameters, s.TensorsByDType,
            s.TensorCount, s.Bytes, s.UnusedTensors, memory);
    }

    public void Print()
    {
        var console = AnsiConsole.Console;
        console.MarkupLine($"[bold]{Markup.Escape(Model)}[/]: {Files.Count} file(s) ({string.Join(", ", Files.Select(Markup.Escape))})");
        var cfg = new Table().AddColumn("config").AddColumn("value");
        foreach (var (k, v) in Config) cfg.AddRow(k, Markup.Escape(Convert.ToString(v, CultureInfo.InvariantCulture) ?? ""));
        console.Write(cfg);
        var p = new Table().AddColumn("group").AddColumn(new TableColumn("parameters").RightAligned()).AddColumn(new TableColumn("share").RightAligned());
        foreach (var (g, n) in ParametersByGroup)
            p.AddRow(g, n.ToString("N0", CultureInfo.InvariantCulture), (100.0 * n / Parameters).ToString("F1", CultureInfo.InvariantCulture) + "%");
        p.AddRow("[bold]total[/]", $"[bold]{Parameters.ToString("N0", CultureInfo.InvariantCulture)}[/]", "100%");
        console.Write(p);
        console.MarkupLine($"{Tensors} tensors ({string.Join(", ", TensorsByDtype.Select(d => $"{d.Value} {d.Key}"))}), {Format.Bytes(Bytes)}");
        if (UnusedTensors.Count > 0)
            console.MarkupLine($"[yellow]{UnusedTensors.Count} tensor(s) in the checkpoint are not used by the model[/] (first: {Markup.Escape(UnusedTensors[0])})");
        Memory.Print();
    }
}

public sealed record MemoryLine(long Weights, long KvCache, long Activations, long Total);

public sealed record MemoryReport(int Images, int Width, int Height, bool Cfg, int PromptTokens, int Rows, int TokensPerRow,
    MemoryLine GpuBf16, MemoryLine CpuF32)
{
    public void Print()
    {
        var t = new Table()
            .Title($"memory for {Images} image(s) of {Width}x{Height}{(Cfg ? " with CFG" : "")}: {Rows} rows x {TokensPerRow} tokens (prompt budget {PromptTokens})")
            .AddColumn("").AddColumn(new TableColumn("GPU (bf16 KV)").RightAligned()).AddColumn(new TableColumn("CPU (fp32 KV)").RightAligned());
        t.AddRow("weights", Format.Bytes(GpuBf16.Weights), Format.Bytes(CpuF32.Weights));
        t.AddRow("KV cache", Format.Bytes(GpuBf16.KvCache), Format.Bytes(CpuF32.KvCache));
        t.AddRow("activations", Format.Bytes(GpuBf16.Activations), Format.Bytes(CpuF32.Activations));
        t.AddRow("[bold]total[/]", $"[bold]{Format.Bytes(GpuBf16.Total)}[/]", $"[bold]{Format.Bytes(CpuF32.Total)}[/]");
        AnsiConsole.Console.Write(t);
    }
}
