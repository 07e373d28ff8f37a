using System.Globalization;
using System.Text;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>
/// One model condition against the teacher on held-out prompts and seeds: (a) mean NLL per image token minus the
/// teacher's on the teacher's samples, (b) mean KL(teacher || it) per position on those samples, and (c) on prompts
/// without the placeholder, mean KL(frozen || it) per position on the frozen model's samples (drift; NaN where it
/// does not apply). Nats.
/// </summary>
public sealed record FidelityRow(string Variant, double NllGap, double Kl, double Drift);

/// <summary>
/// What training a method cost: trainable parameters, the bytes of the files `coar train` writes for it, median step
/// time, device memory the run planned; and the steps and learning rate it ran with.
/// </summary>
public sealed record MethodCost(string Variant, long Parameters, long FileBytes, double StepSeconds, long MemoryBytes)
{
    public int Steps { get; init; }
    public float LearningRate { get; init; }
}

/// <summary>A composition condition against the teacher with both planted concepts, under one mask setting.</summary>
public sealed record CompositionRow(string Variant, bool IdentityMask, double NllGap, double Kl);

/// <summary>Both learned concepts composed with an aid that keeps them apart (or none), against the teacher under the identity mask.</summary>
public sealed record CompositionAidRow(string Variant, bool IdentityMask, bool IndexEmbeddings, double NllGap, double Kl);

/// <summary>The planted-concept benchmark's outcome, and the markdown table that goes into bench/RESULTS.md.</summary>
public sealed record PlantedConceptReport(PlantedConceptSettings Settings, string Model, string Device, int Depth, int HeldOutTargets, int DriftTargets,
    IReadOnlyList<FidelityRow> Fidelity, IReadOnlyList<CompositionRow> Composition, double Seconds)
{
    /// <summary>The cost of each trained method (same order as their fidelity rows; the markdown puts them in one table).</summary>
    public IReadOnlyList<MethodCost> Costs { get; init; } = [];

    /// <summary>The composition aids (identity mask, index embeddings) when <see cref="PlantedConceptSettings.IndexEmbeddings"/>; empty otherwise.</summary>
    public IReadOnlyList<CompositionAidRow> Aids { get; init; } = [];

    public FidelityRow Row(string variant) => Fidelity.Single(r => r.Variant == variant);

    public CompositionRow Row(string variant, bool identityMask) => Composition.Single(r => r.Variant == variant && r.IdentityMask == identityMask);

    public string ToMarkdown()
    {
        string F(double v) => double.IsNaN(v) ? "-" : v.ToString("F4", CultureInfo.InvariantCulture);
        string Rate(float v) => v.ToString("0.##e0", CultureInfo.InvariantCulture);
        var s = Settings;
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"Planted concept on {Model} ({Device}): \"{s.ClassNoun}\", depth {Depth}, {s.Slots} text + {s.Slots} image token(s) per layer, {s.Photos} teacher samples at {s.Resolution} px, " +
            $"{s.Steps} steps, NTP over {(s.NtpTargets == Training.NtpTargets.Codes ? "the codes" : "every image-phase token")}, strength {s.Strength}, seed {s.Seed}; " +
            $"held out: {s.HeldOutTemplates.Count} prompts x {s.HeldOutSeeds} seeds ({HeldOutTargets} targets), drift: {s.DriftPrompts.Count} prompts x {s.HeldOutSeeds} seeds ({DriftTargets} targets); {Seconds:F0} s.");
        md.AppendLine();
        md.AppendLine("| method | (a) held-out NLL gap to the teacher | (b) KL(teacher ‖ it), new prompts | (c) drift KL(frozen ‖ it), no placeholder | " +
                      "trainable parameters | file bytes | steps | learning rate | step time (median, s) | training memory (planned, MiB) |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Fidelity)
        {
            var c = Costs.FirstOrDefault(c => c.Variant == r.Variant);
            string cost = c is null
                ? "- | - | - | - | - | -"
                : FormattableString.Invariant(
                    $"{c.Parameters:N0} | {c.FileBytes:N0} | {c.Steps} | {Rate(c.LearningRate)} | {c.StepSeconds:F3} | {c.MemoryBytes / (1024.0 * 1024.0):F1}");
            md.AppendLine($"| {r.Variant} | {F(r.NllGap)} | {F(r.Kl)} | {F(r.Drift)} | {cost} |");
        }
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"Costs on {Device}: parameters and files as `coar train` writes them (a directory: its files summed); step time and memory of the run's own training.");
        if (Fidelity.Any(r => r.Variant == PlantedConceptBenchmark.LoraQkv))
            md.AppendLine(CultureInfo.InvariantCulture, $"LoRA: rank {s.LoraRank} on q/k/v of every layer, identifier \"{Training.TrainingSettings.LoraIdentifier}\" in the prompts, DPP as `coar train --method lora`.");
        if (Fidelity.Any(r => r.Variant == PlantedConceptBenchmark.TextualInversion))
            md.AppendLine("Textual inversion: PersonalAR's stage 1, one [V] embedding at the input of layer 0, random start, the template list, no DPP or CASR.");
        if (Fidelity.Any(r => r.Variant is PlantedConceptBenchmark.PersonalArFull or PlantedConceptBenchmark.PersonalArLora))
            md.AppendLine(
                $"PersonalAR: stage 2 continues the textual-inversion [V] (stage 1, trained once) for {s.EffectiveStage2Steps} steps" +
                (s.Stage2Steps is null ? $" (stage 1's {s.Steps} x {Training.TrainingSettings.PersonalArStage2Steps}/{Training.TrainingSettings.ForTextualInversion(s.ClassNoun).Steps}, the recipe's ratio)" : "") +
                ", with the [V] embedding and the weights trained together at one rate; its parameters are the embedding's and the weights', its step time and memory stage 2's.");
        var raised = new List<string>();
        if (s.LoraLearningRate is { } lora)
            raised.Add(FormattableString.Invariant($"LoRA {Rate(lora)} (recipe {Rate(Training.TrainingSettings.LoraLearningRate)})"));
        if (s.FullLearningRate is { } full)
            raised.Add(FormattableString.Invariant($"full weights {Rate(full)} (recipe {Rate(Training.TrainingSettings.FullFineTuneLearningRate)})"));
        if (raised.Count > 0) md.AppendLine($"Learning rates set for this run instead of the recipe's: {string.Join(", ", raised)}.");
        if (Composition.Count > 0)
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"Composition of \"{s.ClassNoun}\" and \"{s.SecondClassNoun}\" (both learned with DPP + CASR), against the teacher with both planted concepts under the same mask setting:");
            md.AppendLine();
            md.AppendLine("| concepts in the prompt | NLL gap, identity mask | KL, identity mask | NLL gap, no mask | KL, no mask |");
            md.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var variant in Composition.Select(r => r.Variant).Distinct())
            {
                var on = Row(variant, true);
                var off = Row(variant, false);
                md.AppendLine($"| {variant} | {F(on.NllGap)} | {F(on.Kl)} | {F(off.NllGap)} | {F(off.Kl)} |");
            }
        }
        if (Aids.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Both concepts composed, against the teacher with both planted concepts under the identity mask (index embeddings: each concept " +
                          "learned again with a token-index embedding on its slots and class noun):");
            md.AppendLine();
            md.AppendLine("| what keeps the concepts apart | identity mask | index embeddings | NLL gap | KL |");
            md.AppendLine("|---|:-:|:-:|---:|---:|");
            foreach (var r in Aids)
                md.AppendLine($"| {r.Variant} | {(r.IdentityMask ? "on" : "off")} | {(r.IndexEmbeddings ? "on" : "off")} | {F(r.NllGap)} | {F(r.Kl)} |");
        }
        return md.ToString();
    }
}
