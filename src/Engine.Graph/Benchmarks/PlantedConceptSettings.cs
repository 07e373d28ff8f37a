using System.Text.Json.Serialization;
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

    /// <summary>Which methods are trained on the teacher's samples and compared (all by default); by name in JSON.</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<PlantedMethods>))]
    public PlantedMethods Methods { get; init; } = PlantedMethods.All;

    /// <summary>
    /// The rank of the LoRA adapters on q/k/v of every layer: the LoRA row (`coar train --method lora`'s recipe, scored
    /// with its identifier in the prompts) and PersonalAR's stage 2 with LoRA. The default is the recipe's 64.
    /// </summary>
    public int LoraRank { get; init; } = TrainingSettings.DefaultLoraRank;

    /// <summary>
    /// The learning rate of LoRA adapters (the LoRA row and PersonalAR's stage 2 with LoRA); null: the recipe's
    /// <see cref="TrainingSettings.LoraLearningRate"/>. A small random model may need more to move in a short run.
    /// </summary>
    public float? LoraLearningRate { get; init; }

    /// <summary>The learning rate of PersonalAR's stage 2 with full q/k/v weights; null: <see cref="TrainingSettings.FullFineTuneLearningRate"/>.</summary>
    public float? FullLearningRate { get; init; }

    /// <summary>
    /// PersonalAR's stage-2 steps; null: <see cref="Steps"/> (stage 1's) scaled by the recipe's stage 2 to stage 1
    /// ratio (<see cref="TrainingSettings.PersonalArStage2Steps"/> to textual inversion's 1500), at least 1.
    /// </summary>
    public int? Stage2Steps { get; init; }

    /// <summary>The stage-2 steps this run trains.</summary>
    public int EffectiveStage2Steps => Stage2Steps ?? Math.Max(1,
        (int)Math.Round((double)Steps * TrainingSettings.PersonalArStage2Steps / TrainingSettings.ForTextualInversion(ClassNoun).Steps));

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

    /// <summary>The LoRA row's settings: `coar train --method lora`'s recipe on the same samples as <paramref name="coar"/>, with this benchmark's rank and learning rate.</summary>
    public TrainingSettings Lora(TrainingSettings coar) => coar.ForLora() with
    {
        Depth = null, LoraRank = LoraRank, LearningRate = LoraLearningRate ?? TrainingSettings.LoraLearningRate,
    };

    /// <summary>
    /// PersonalAR's stage 1 for this benchmark: textual inversion (<see cref="TrainingSettings.ForTextualInversion"/>:
    /// one layer-0 [V] embedding, random start, the template list, lr 1e-2, no DPP or CASR) with this benchmark's
    /// placeholder, size, steps, seed and NTP targets.
    /// </summary>
    public TrainingSettings TextualInversion(string placeholder) => TrainingSettings.ForTextualInversion(ClassNoun) with
    {
        Placeholder = placeholder, Steps = Steps, Resolution = Resolution, Seed = Seed, NtpTargets = NtpTargets,
    };

    /// <summary>PersonalAR's stage 2 after <see cref="TextualInversion"/>: the recipe's, with this benchmark's steps, rank and learning rates.</summary>
    public TrainingSettings PersonalArStage2(TrainingSettings stage1, WeightTraining weights) =>
        PersonalArSettings.After(stage1, weights, EffectiveStage2Steps, weights == WeightTraining.Full ? FullLearningRate : LoraLearningRate,
            weights == WeightTraining.Lora ? LoraRank : null).Stage2;

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
        Require(Methods != PlantedMethods.None && (Methods & ~PlantedMethods.All) == 0, nameof(Methods), $"at least one known method to compare, got {Methods}");
        Require(!Composition || Methods.HasFlag(PlantedMethods.Coar), nameof(Methods),
            "the composition composes CoAR concepts: add coar to the methods, or skip the composition (--no-composition)");
        Require(LoraRank is >= 1 and <= 4096, nameof(LoraRank), $"the LoRA rank must be 1 to 4096 (choose the compared methods with --methods), got {LoraRank}");
        Require(LoraLearningRate is not { } loraLr || (float.IsFinite(loraLr) && loraLr > 0), nameof(LoraLearningRate),
            $"the LoRA learning rate must be a positive number, got {LoraLearningRate}");
        Require(FullLearningRate is not { } fullLr || (float.IsFinite(fullLr) && fullLr > 0), nameof(FullLearningRate),
            $"the full fine-tuning learning rate must be a positive number, got {FullLearningRate}");
        Require(Stage2Steps is null or >= 1, nameof(Stage2Steps), $"PersonalAR's stage 2 needs at least one step, got {Stage2Steps}");
        Training(ClassNoun, "[V]").Validate();
        if (Methods.HasFlag(PlantedMethods.Lora)) Lora(Training(ClassNoun, "[V]")).Validate();
        if ((Methods & (PlantedMethods.TextualInversion | PlantedMethods.PersonalAr)) != 0)
        {
            var stage1 = TextualInversion("[V]");
            stage1.Validate();
            foreach (var weights in new[] { WeightTraining.Full, WeightTraining.Lora })
                new PersonalArSettings(stage1, PersonalArStage2(stage1, weights)).Validate();
        }
    }
}

/// <summary>The methods the planted-concept benchmark can train and compare on the same teacher samples.</summary>
[Flags]
public enum PlantedMethods
{
    None = 0,

    /// <summary>CoAR's context tokens (LMCL + DPP + CASR, and the ablation).</summary>
    Coar = 1,

    /// <summary>PersonalAR's stage 1 alone: the [V] input embedding.</summary>
    TextualInversion = 2,

    /// <summary>LoRA on q/k/v of every layer with a plain-text identifier.</summary>
    Lora = 4,

    /// <summary>PersonalAR: stage 1, then the [V] embedding with the full q/k/v weights.</summary>
    PersonalArFull = 8,

    /// <summary>PersonalAR: stage 1, then the [V] embedding with LoRA on q/k/v.</summary>
    PersonalArLora = 16,

    PersonalAr = PersonalArFull | PersonalArLora,
    All = Coar | TextualInversion | Lora | PersonalAr,
}
