using System.CommandLine;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Lora;

namespace CoAR.Engine.Cli;

/// <summary>
/// --lora DIR (repeatable), --lora-merge and --projections FILE, shared by the commands that generate (generate,
/// serve): the files are read and checked before the model loads (<see cref="Read"/>), and applied to the loaded
/// engine with a line on stderr saying what was applied and how (<see cref="AdaptedWeights.Apply"/>).
/// </summary>
public sealed class AdaptedWeightOptions
{
    public Option<string[]> Lora { get; } = new("--lora")
    {
        Description = "A LoRA adapter in PEFT's layout (its directory, or its adapter_model.safetensors with adapter_config.json beside it); repeat for several. Applied unmerged unless --lora-merge",
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [],
    };

    public Option<bool> LoraMerge { get; } = new("--lora-merge")
    {
        Description = "Fold the --lora adapters into the loaded weights once (W += scale B A) instead of adding their terms at every step",
    };

    public Option<string?> Projections { get; } = new("--projections")
    {
        Description = $"Fine-tuned projection weights that replace the loaded ones: a safetensors file of model.layers.N.self_attn.q_proj.weight, ... (e.g. PersonalAR's {FineTunedProjections.FileName}, "
                      + "or its directory); applied before any --lora",
    };

    public IEnumerable<Option> All => [Lora, LoraMerge, Projections];

    /// <summary>Reads every adapter and the fine-tuned weights now: a missing or malformed file fails before anything else happens.</summary>
    public AdaptedWeights Read(ParseResult parse)
    {
        var loraArgs = parse.GetValue(Lora)!;
        bool merge = parse.GetValue(LoraMerge);
        if (merge && loraArgs.Length == 0) throw new UsageException("--lora-merge: no --lora adapter given");
        var adapters = loraArgs.Select(a => PeftAdapterFile.Load(a).Adapter).ToList();
        string? projectionsArg = parse.GetValue(Projections);
        if (projectionsArg is not null && !File.Exists(projectionsArg) && !File.Exists(Path.Combine(projectionsArg, FineTunedProjections.FileName)))
            throw new UsageException($"--projections '{projectionsArg}': no such file (nor a directory holding {FineTunedProjections.FileName})");
        var fineTuned = projectionsArg is null ? null : FineTunedProjections.Load(projectionsArg);
        return new AdaptedWeights(loraArgs, adapters, merge, projectionsArg, fineTuned);
    }
}

/// <summary>What <see cref="AdaptedWeightOptions.Read"/> read: the adapters and fine-tuned weights to apply, and their arguments.</summary>
public sealed record AdaptedWeights(IReadOnlyList<string> LoraArguments, IReadOnlyList<LoraAdapter> Adapters, bool Merge, string? ProjectionsArgument,
    FineTunedProjections.Weights? FineTuned)
{
    /// <summary>"merged", "unmerged", or "" without adapters.</summary>
    public string LoraMode => Adapters.Count == 0 ? "" : Merge ? "merged" : "unmerged";

    /// <summary>The adapters' arguments and how they apply, for a manifest: "a,b (unmerged)", or "".</summary>
    public string LoraDescription => Adapters.Count == 0 ? "" : $"{string.Join(",", LoraArguments)} ({LoraMode})";

    /// <summary>The fine-tuned weights (first: the adapters go on top of them), then the adapters; says each on stderr.</summary>
    public void Apply(CoarEngine engine)
    {
        if (FineTuned is not null)
        {
            engine.ApplyProjections(FineTuned);
            Console.Error.WriteLine($"fine-tuned weights: {FineTuned.Values.Count} projections ({FineTuned.Parameters:N0} weights) from {FineTuned.Path} replace the loaded ones");
        }
        if (Adapters.Count > 0)
        {
            engine.ApplyLora(Adapters, Merge);
            Console.Error.WriteLine($"LoRA: {Adapters.Count} adapter(s) ({string.Join(", ", Adapters.Select(a => $"rank {a.Rank} on {a.Count} projections"))}) " +
                (Merge ? "merged into the loaded weights" : "applied unmerged, per run"));
        }
    }
}
