using CoAR.Engine.Graph.Concepts;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// How a concept is trained. Defaults are the CoAR paper's subject settings (lr 1e-2, 1000 steps, depth 9, one text
/// and one image token per layer, lambda1 = lambda2 = 0.5, alpha 1e-2, beta 5e-4, resolution 768); the optimizer is
/// AdamW(0.9, 0.999, weight decay 0) (the paper does not say: a DECISION, see the README's method notes).
/// </summary>
public sealed record TrainingSettings
{
    public ConceptKind Kind { get; init; } = ConceptKind.Subject;
    public string Placeholder { get; init; } = "[V]";
    public required string ClassNoun { get; init; }
    public int Steps { get; init; } = 1000;
    public int Depth { get; init; } = 9;
    public int TextSlots { get; init; } = 1;
    public int ImageSlots { get; init; } = 1;
    public float LearningRate { get; init; } = 1e-2f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.999f;
    public float WeightDecay { get; init; }
    public float AdamEps { get; init; } = 1e-8f;
    public int Resolution { get; init; } = 768;

    /// <summary>Dual prior preservation on class images the frozen model makes (subjects only; styles skip it).</summary>
    public bool Dpp { get; init; } = true;
    public float Lambda1 { get; init; } = 0.5f;
    public float Lambda2 { get; init; } = 0.5f;
    public float Alpha { get; init; } = 1e-2f;
    public int ClassImages { get; init; } = 8;

    /// <summary>Context-aware self-regularization: image tokens stay near the frozen model's mean image state.</summary>
    public bool Casr { get; init; } = true;
    public float BetaCasr { get; init; } = 5e-4f;

    /// <summary>Passes whose gradients are accumulated before one optimizer step (1: one subject photo per step).</summary>
    public int Accumulation { get; init; } = 1;

    /// <summary>Seeded random-offset crops per photo as augmentation; 0: one center crop per photo.</summary>
    public int RandomCrops { get; init; }

    public int Seed { get; init; } = 0;
    public int CheckpointEvery { get; init; } = 100;
    public int ValidateEvery { get; init; }
    public string? ValidationPrompt { get; init; }

    /// <summary>Prompt template with {placeholder} and {class}: "a photo of [V] dog" / "a picture in [S] style".</summary>
    public string Template { get; init; } = "a photo of {placeholder} {class}";

    public string ClassTemplate { get; init; } = "a photo of a {class}";

    public static TrainingSettings ForStyle(string styleName) => new()
    {
        Kind = ConceptKind.Style, Placeholder = "[S]", ClassNoun = styleName, Steps = 600, Depth = 3, Dpp = false,
        Template = "a picture in {placeholder} style",
    };

    public string SubjectPrompt => Template.Replace("{placeholder}", Placeholder).Replace("{class}", ClassNoun);
    public string ClassPrompt => ClassTemplate.Replace("{class}", ClassNoun);

    public void Validate()
    {
        if (Steps <= 0) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "steps must be positive");
        if (Depth <= 0) throw new ArgumentOutOfRangeException(nameof(Depth), Depth, "depth (layers) must be positive");
        if (TextSlots < 0 || ImageSlots < 0 || TextSlots + ImageSlots == 0)
            throw new ArgumentException("a concept needs at least one text or image token per layer");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "the learning rate must be positive");
        if (RandomCrops < 0) throw new ArgumentOutOfRangeException(nameof(RandomCrops), RandomCrops, "random crops must be 0 or more");
        if (Accumulation <= 0) throw new ArgumentOutOfRangeException(nameof(Accumulation), Accumulation, "accumulation must be positive");
        if (Resolution % 32 != 0 || Resolution < 32)
            throw new ArgumentOutOfRangeException(nameof(Resolution), Resolution, "the resolution must be a positive multiple of 32");
        if (TextSlots > 0 && !Template.Contains("{placeholder}"))
            throw new ArgumentException($"the prompt template '{Template}' has no {{placeholder}} for the text tokens");
        if (Dpp && ClassImages <= 0) throw new ArgumentOutOfRangeException(nameof(ClassImages), ClassImages, "DPP needs class images");
    }
}
