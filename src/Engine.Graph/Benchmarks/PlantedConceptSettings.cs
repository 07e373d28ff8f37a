using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>
/// The planted-concept benchmark's knobs. Defaults: five training "photos" (the paper's 3-5) sampled from the teacher
/// at 128 px, the paper's training recipe and depth (clamped to the model), 300 steps, a second concept for composition.
/// </summary>
public sealed record PlantedConceptSettings
{
    public string ClassNoun { get; init; } = "toy";

    /// <summary>The second planted concept's class, for the composition.</summary>
    public string SecondClassNoun { get; init; } = "cup";

    public int Resolution { get; init; } = 128;

    /// <summary>Teacher samples the concept is trained on.</summary>
    public int Photos { get; init; } = 5;

    /// <summary>Seeds per held-out prompt (none of them a training seed).</summary>
    public int HeldOutSeeds { get; init; } = 2;

    public int Steps { get; init; } = 300;

    /// <summary>Injection depth of the planted and the learned concepts; null: the paper's 9, clamped to the model.</summary>
    public int? Depth { get; init; }

    public int ClassImages { get; init; } = 8;

    /// <summary>Text and image tokens per layer of the planted and the learned concepts (the paper's 1).</summary>
    public int Slots { get; init; } = 1;

    /// <summary>The trainer's NTP targets (its default: every image-phase token over the vocabulary).</summary>
    public NtpTargets NtpTargets { get; init; } = NtpTargets.ImagePhase;

    /// <summary>How far the planted vectors lie from the mean hidden state, in standard deviations per dimension.</summary>
    public float Strength { get; init; } = 2f;

    public int Seed { get; init; }

    public bool Composition { get; init; } = true;

    /// <summary>
    /// Also train a LoRA adapter of this rank on q/k/v of every layer on the same teacher samples (`coar train --method
    /// lora`'s recipe), scored the same way with its identifier in the prompts; null: no LoRA row.
    /// </summary>
    public int? LoraRank { get; init; }

    /// <summary>
    /// Also learn both composed concepts with token-index embeddings and compare the composition aids against the masked
    /// teacher: the identity mask alone, the index embeddings alone, both, neither.
    /// </summary>
    public bool IndexEmbeddings { get; init; }

    /// <summary>Also train LMCL alone and LMCL + DPP (the ablation); without them only LMCL + DPP + CASR is trained.</summary>
    public bool Ablation { get; init; } = true;

    /// <summary>Held-out prompts with the concept ({placeholder}, {class}); the frozen model reads "the" for the placeholder.</summary>
    public IReadOnlyList<string> HeldOutTemplates { get; init; } =
    [
        "a photo of {placeholder} {class} on the beach",
        "a photo of {placeholder} {class} in the snow",
        "{placeholder} {class} on a wooden table",
        "a close-up photo of {placeholder} {class}",
    ];

    /// <summary>Held-out prompts without the concept ({class} allowed), where the concept's image tokens must not change the model.</summary>
    public IReadOnlyList<string> DriftPrompts { get; init; } =
    [
        "a photo of a {class} in the snow",
        "a red car on a street",
        "a bowl of fruit on a table",
        "a dog running on the grass",
    ];

    /// <summary>Prompts with both concepts: {first} {class1}, {second} {class2}; a concept left out reads "a".</summary>
    public IReadOnlyList<string> CompositionTemplates { get; init; } =
    [
        "a photo of {first} {class1} and {second} {class2}",
        "{first} {class1} next to {second} {class2} on a table",
    ];

    /// <summary>The training settings of one concept: the engine's recipe with this benchmark's size, steps and seed.</summary>
    public TrainingSettings Training(string classNoun, string placeholder) => new()
    {
        ClassNoun = classNoun, Placeholder = placeholder, Steps = Steps, Depth = Depth, Resolution = Resolution, ClassImages = ClassImages, Seed = Seed,
        TextSlots = Slots, ImageSlots = Slots, NtpTargets = NtpTargets,
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the setting that cannot work.</summary>
    public void Validate()
    {
        static void Require(bool ok, string setting, string message)
        {
            if (!ok) throw new ArgumentException(message, setting);
        }
        Require(Photos is >= 1 and <= 1000, nameof(Photos), $"1 to 1000 training photos, got {Photos}");
        Require(HeldOutSeeds is >= 1 and <= 1000, nameof(HeldOutSeeds), $"1 to 1000 held-out seeds per prompt, got {HeldOutSeeds}");
        Require(float.IsFinite(Strength) && Strength > 0, nameof(Strength), $"the strength must be a positive number, got {Strength}");
        Require(HeldOutTemplates.Count > 0 && HeldOutTemplates.All(t => t.Contains("{placeholder}", StringComparison.Ordinal)), nameof(HeldOutTemplates),
            "held-out prompts need at least one template, each with {placeholder}");
        Require(DriftPrompts.Count > 0, nameof(DriftPrompts), "drift needs at least one prompt");
        Require(CompositionTemplates.Count > 0 && CompositionTemplates.All(t => t.Contains("{first}", StringComparison.Ordinal) && t.Contains("{second}", StringComparison.Ordinal)),
            nameof(CompositionTemplates), "composition prompts need {first} and {second}");
        Require(!IndexEmbeddings || Composition, nameof(IndexEmbeddings), "index embeddings are compared in the composition: drop --no-composition");
        Require(!string.IsNullOrWhiteSpace(SecondClassNoun), nameof(SecondClassNoun), "the second class noun must not be empty");
        Require(LoraRank is null or (>= 1 and <= 4096), nameof(LoraRank), $"the LoRA rank must be 1 to 4096, got {LoraRank}");
        Training(ClassNoun, "[V]").Validate();
    }
}
