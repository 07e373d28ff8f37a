namespace CoAR.Engine.Graph.Training;

/// <summary>
/// PersonalAR's two stages: textual inversion of the [V] embedding (<see cref="Stage1"/>, from
/// <see cref="TrainingSettings.ForTextualInversion"/>), then the embedding trained on together with the backbone's
/// q/k/v weights or LoRA adapters on them (<see cref="Stage2"/>, from <see cref="TrainingSettings.ForPersonalArStage2"/>).
/// </summary>
public sealed record PersonalArSettings(TrainingSettings Stage1, TrainingSettings Stage2)
{
    /// <summary>The paper's stage 1 and this engine's stage 2 (full q/k/v unless <paramref name="weights"/> says LoRA).</summary>
    public static PersonalArSettings For(string classNoun, WeightTraining weights = WeightTraining.Full) =>
        After(TrainingSettings.ForTextualInversion(classNoun), weights);

    /// <summary>
    /// Stage 2 (<see cref="TrainingSettings.ForPersonalArStage2"/>) after <paramref name="stage1"/>, with what a front
    /// end set; each null keeps the recipe's. A LoRA rank or alpha with full weights is left for <see cref="Validate"/> to refuse.
    /// </summary>
    public static PersonalArSettings After(TrainingSettings stage1, WeightTraining weights, int? steps = null, float? learningRate = null,
        int? loraRank = null, float? loraAlpha = null, string? targets = null)
    {
        var second = stage1.ForPersonalArStage2(weights);
        return new(stage1, second with
        {
            Steps = steps ?? second.Steps, LearningRate = learningRate ?? second.LearningRate, LoraRank = loraRank ?? second.LoraRank,
            LoraAlpha = loraAlpha ?? second.LoraAlpha, LoraTargets = targets ?? second.LoraTargets,
        });
    }

    /// <summary>Each stage's own checks, and that stage 2 continues stage 1's concept (same placeholder, class, shape, resolution).</summary>
    public void Validate()
    {
        Stage1.Validate();
        Stage2.Validate();
        if (Stage1.Method != TrainingMethod.TextualInversion)
            throw new TrainingSettingException(nameof(TrainingSettings.Method), $"PersonalAR's stage 1 is textual inversion, not {Stage1.Method}");
        if (Stage2.Method != TrainingMethod.PersonalAr)
            throw new TrainingSettingException(nameof(TrainingSettings.Method), $"PersonalAR's stage 2 is the PersonalAr method, not {Stage2.Method}");
        if (Stage1.Kind != Stage2.Kind || Stage1.Placeholder != Stage2.Placeholder || Stage1.ClassNoun != Stage2.ClassNoun || Stage1.Depth != Stage2.Depth
            || Stage1.TextSlots != Stage2.TextSlots || Stage1.ImageSlots != Stage2.ImageSlots || Stage1.IndexEmbedding != Stage2.IndexEmbedding
            || Stage1.Resolution != Stage2.Resolution)
            throw new TrainingSettingException(nameof(TrainingSettings.Placeholder),
                "PersonalAR's stage 2 continues stage 1's concept: both stages need the same placeholder, class, depth, slots, index embedding and resolution");
    }
}
