using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// How a concept is trained. The method's defaults are the CoAR paper's subject settings (1000 steps, depth 9, one text
/// and one image token per layer, lambda1 = lambda2 = 0.5, alpha 1e-2, beta 5e-4, resolution 768). The optimizer
/// follows the paper's sentence "learning rate 1e-2 and batch size 1, keeping all other Lumina-mGPT hyperparameters
/// unchanged": the rest is Lumina-mGPT's fine-tuning recipe (its finetune solver and 7B script): AdamW with betas
/// (0.9, 0.95) and weight decay 0.1 on every trained parameter, gradient-norm clipping at 4, a short linear warmup then
/// a constant rate (the script's min_lr equals its lr), and a z-loss of weight 1e-5. See the README's method notes.
/// </summary>
public sealed record TrainingSettings
{
    /// <summary>What is learned: CoAR's context tokens (default), PersonalAR's textual inversion (<see cref="ForTextualInversion"/>) or LoRA adapters (<see cref="ForLora"/>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public TrainingMethod Method { get; init; }

    /// <summary>
    /// What is trained in the backbone's projections (<see cref="LoraProjections"/>): nothing (CoAR, textual inversion),
    /// LoRA adapters (<see cref="TrainingMethod.Lora"/>, PersonalAR stage 2 with LoRA) or the weights themselves
    /// (PersonalAR stage 2). Left out of stored settings when nothing.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public WeightTraining Weights { get; init; }

    /// <summary>Whether the run trains a concept's context tokens (every method but plain LoRA).</summary>
    [JsonIgnore]
    public bool TrainsConcept => Method != TrainingMethod.Lora;

    public ConceptKind Kind { get; init; } = ConceptKind.Subject;
    public string Placeholder { get; init; } = "[V]";
    public required string ClassNoun { get; init; }
    public int Steps { get; init; } = 1000;

    /// <summary>Injection depth N; null: the paper's (9 for a subject, 3 for a style), clamped to the model's layers.</summary>
    public int? Depth { get; init; }

    /// <summary>
    /// Also learn a token-index embedding (TokenAR's): one vector added at the input of layer 0 to every token of the
    /// concept's source (its slots and the class noun after its placeholder), zero at the start.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool IndexEmbedding { get; init; }

    public int TextSlots { get; init; } = 1;
    public int ImageSlots { get; init; } = 1;

    /// <summary>Training resolution in pixels; null: the engine's target size (the checkpoint's resolution).</summary>
    public int? Resolution { get; init; }

    // ---- optimizer: Lumina-mGPT's fine-tuning recipe with the paper's learning rate ----

    public float LearningRate { get; init; } = 1e-2f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float AdamEps { get; init; } = 1e-8f;

    /// <summary>Decoupled (AdamW) weight decay: each update first shrinks the decayed tokens by lr * decay.</summary>
    public float WeightDecay { get; init; } = 0.1f;

    /// <summary>Which context tokens the weight decay shrinks (Lumina decays every trained parameter: all).</summary>
    public DecayedTokens DecayedTokens { get; init; } = DecayedTokens.All;

    /// <summary>Largest L2 norm of the whole gradient (all context tokens) before the update; 0: no clipping.</summary>
    public float GradientClip { get; init; } = 4f;

    /// <summary>Updates whose learning rate ramps up linearly, lr * (s + 1) / (warmup + 1) at update s.</summary>
    public int WarmupSteps { get; init; } = 5;

    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Constant;

    /// <summary>Where the cosine schedule ends (ignored by the constant one).</summary>
    public float MinLearningRate { get; init; }

    /// <summary>Weight of Lumina's z-loss, mean(logsumexp(logits)^2) over the NTP targets, added to every NTP term.</summary>
    public float ZLossWeight { get; init; } = 1e-5f;

    // ---- the CoAR objective ----

    /// <summary>Dual prior preservation on class images the frozen model makes (subjects only; styles skip it).</summary>
    public bool Dpp { get; init; } = true;
    public float Lambda1 { get; init; } = 0.5f;
    public float Lambda2 { get; init; } = 0.5f;
    public float Alpha { get; init; } = 1e-2f;
    public int ClassImages { get; init; } = 8;

    /// <summary>Context-aware self-regularization: image tokens stay near the frozen model's mean image state.</summary>
    public bool Casr { get; init; } = true;
    public float BetaCasr { get; init; } = 5e-4f;

    /// <summary>The NTP targets: every image-phase token over the vocabulary (default), or the codes over the codes.</summary>
    public NtpTargets NtpTargets { get; init; } = NtpTargets.ImagePhase;

    /// <summary>Passes whose gradients are averaged into one optimizer step (1: one subject photo per step, the paper's batch 1).</summary>
    public int Accumulation { get; init; } = 1;

    // ---- data ----

    /// <summary>Random: a fresh seeded crop offset every time a photo is drawn (Lumina's data loader); center: always the center.</summary>
    public CropMode Crop { get; init; } = CropMode.Random;

    /// <summary>Seeds the class images, the photo order (shuffled every epoch), the crops and the validation images.</summary>
    public int Seed { get; init; }

    public int CheckpointEvery { get; init; } = 100;
    public int ValidateEvery { get; init; }
    public string? ValidationPrompt { get; init; }

    /// <summary>Prompt template with {placeholder} and {class}: "a photo of [V] dog" / "a picture in [S] style".</summary>
    public string Template { get; init; } = "a photo of {placeholder} {class}";

    public string ClassTemplate { get; init; } = "a photo of a {class}";

    // ---- LoRA (Method = Lora) ----

    /// <summary>
    /// The adapters' rank r; null: <see cref="DefaultLoraRank"/>. LoRA settings are left out of a non-LoRA run's stored
    /// settings (so those stay as they were).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? LoraRank { get; init; }

    /// <summary>64 on q/k/v of a 7B model is the 50.4M parameters CoAR's comparison counts.</summary>
    public const int DefaultLoraRank = 64;

    [JsonIgnore]
    public int EffectiveLoraRank => LoraRank ?? DefaultLoraRank;

    /// <summary>PEFT's lora_alpha; the low-rank term is scaled by alpha / rank. Null: the rank (scale 1).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public float? LoraAlpha { get; init; }

    /// <summary>
    /// The projections adapted (LoRA) or fine-tuned (<see cref="WeightTraining.Full"/>) in every layer, comma-separated
    /// among q, k, v, o, gate, up, down (or PEFT's q_proj, ...); null: q, k and v, as PersonalAR fine-tunes. Kept as
    /// text so that settings compare and store by value.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? LoraTargets { get; init; }

    /// <summary><see cref="LoraTargets"/> parsed (unknown names left out: <see cref="Validate"/> refuses them).</summary>
    [JsonIgnore]
    public Projection[] LoraProjections =>
        (LoraTargets ?? "q,k,v").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Projections.Parse).OfType<Projection>().Distinct().Order().ToArray();

    /// <summary>Several prompt templates, one drawn per pass (seeded, shuffled per round); null: <see cref="Template"/> alone.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? Templates { get; init; }

    /// <summary>Where the text tokens start (CoAR: the class noun's states; textual inversion: random).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public TextInit TextInit { get; init; }

    /// <summary>
    /// Image files in the training (and validation) prompt, Lumina-mGPT's &lt;|image|&gt;: one per symbol in the
    /// template, or all first when it has none; encoded at the training resolution. The class prompt (DPP) has none:
    /// it is the frozen model's prior for the class. Null: none (and left out of the stored settings).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? References { get; init; }

    /// <summary>The most reference images one training prompt may hold.</summary>
    public const int MaxReferences = 16;

    public const int SubjectDepth = 9, StyleDepth = 3;

    /// <summary>The LoRA learning rate (DreamBooth-LoRA's usual 1e-4; CoAR's 1e-2 is for context tokens).</summary>
    public const float LoraLearningRate = 1e-4f;

    /// <summary>LoRA's subject identifier: plain prompt text, DreamBooth's rare token "sks" (a bracketed placeholder is a concept's slot).</summary>
    public const string LoraIdentifier = "sks";

    /// <summary>
    /// LoRA on a subject (or, with <see cref="Kind"/> Style, a style): the placeholder becomes the plain-text identifier
    /// <see cref="LoraIdentifier"/> unless one is given, no context tokens, no CASR (it regularises context tokens); DPP
    /// keeps CoAR's class-image terms (NTP and KL to the frozen model, which runs without the adapters).
    /// </summary>
    public TrainingSettings ForLora() => this with
    {
        Method = TrainingMethod.Lora, Weights = WeightTraining.Lora, TextSlots = 0, ImageSlots = 0, Casr = false, LearningRate = LoraLearningRate,
        Placeholder = LoraIdentifier, LoraRank = LoraRank ?? DefaultLoraRank, LoraTargets = LoraTargets ?? "q,k,v",
    };

    /// <summary>PersonalAR stage 2's optimizer steps (a DECISION: the paper gives none; see the README's method notes).</summary>
    public const int PersonalArStage2Steps = 400;

    /// <summary>The learning rate of full fine-tuning (a DECISION, DreamBooth's order for full weights; LoRA's is <see cref="LoraLearningRate"/>).</summary>
    public const float FullFineTuneLearningRate = 1e-5f;

    /// <summary>
    /// PersonalAR's stage 2 after these stage-1 settings (<see cref="ForTextualInversion"/>): the same prompts and
    /// objective (templates, no DPP or CASR), the [V] embedding trained on from where stage 1 left it together with
    /// <paramref name="weights"/> on q/k/v of every layer (or <see cref="LoraTargets"/>):
    /// <see cref="PersonalArStage2Steps"/> steps at <see cref="FullFineTuneLearningRate"/> (full) or
    /// <see cref="LoraLearningRate"/> (LoRA, rank <see cref="DefaultLoraRank"/> unless set), one rate for both.
    /// </summary>
    public TrainingSettings ForPersonalArStage2(WeightTraining weights) => weights == WeightTraining.None
        ? throw new ArgumentException("PersonalAR's stage 2 trains LoRA adapters or the full weights", nameof(weights))
        : this with
        {
            Method = TrainingMethod.PersonalAr, Weights = weights, Steps = PersonalArStage2Steps,
            LearningRate = weights == WeightTraining.Full ? FullFineTuneLearningRate : LoraLearningRate,
            LoraRank = weights == WeightTraining.Lora ? LoraRank ?? DefaultLoraRank : null,
            LoraAlpha = weights == WeightTraining.Lora ? LoraAlpha : null,
            LoraTargets = LoraTargets ?? "q,k,v",
        };

    public static TrainingSettings ForStyle(string styleName) => new()
    {
        Kind = ConceptKind.Style, Placeholder = "[S]", ClassNoun = styleName, Steps = 600, Dpp = false,
        Template = "a picture in {placeholder} style",
    };

    /// <summary>
    /// PersonalAR's stage 1 on Lumina-mGPT: the [V] token's input embedding alone (depth 1, one text slot, no image
    /// slot), randomly initialized, lr 0.01 for 1500 steps, no DPP or CASR, each pass's prompt drawn from
    /// <see cref="PersonalArTemplates"/>. The optimizer is the rest of CoAR's recipe (see the README's method notes).
    /// </summary>
    public static TrainingSettings ForTextualInversion(string classNoun) => new()
    {
        Method = TrainingMethod.TextualInversion, ClassNoun = classNoun, Steps = 1500, Depth = 1, TextSlots = 1, ImageSlots = 0,
        Dpp = false, Casr = false, LearningRate = 1e-2f, TextInit = TextInit.Random, Templates = [.. PersonalArTemplates],
        Template = PersonalArTemplates[0],
    };

    /// <summary>
    /// The object templates of textual inversion (Gal et al.'s small list) with "{placeholder} {class}" for the object:
    /// PersonalAR trains its [V] embedding "with several templates" of the form "a photo of [V] dog" without listing them
    /// (a DECISION, in the README's method notes).
    /// </summary>
    public static IReadOnlyList<string> PersonalArTemplates { get; } =
    [
        "a photo of {placeholder} {class}", "a rendering of {placeholder} {class}", "a cropped photo of {placeholder} {class}",
        "the photo of {placeholder} {class}", "a photo of a clean {placeholder} {class}", "a photo of a dirty {placeholder} {class}",
        "a dark photo of {placeholder} {class}", "a photo of my {placeholder} {class}", "a photo of the cool {placeholder} {class}",
        "a close-up photo of {placeholder} {class}", "a bright photo of {placeholder} {class}", "a good photo of {placeholder} {class}",
        "a photo of one {placeholder} {class}", "a rendition of {placeholder} {class}", "a photo of a nice {placeholder} {class}",
        "a photo of the small {placeholder} {class}", "a photo of the weird {placeholder} {class}", "a photo of the large {placeholder} {class}",
    ];

    public string SubjectPrompt => PromptFrom(Template);

    /// <summary>Every training prompt: one per template of <see cref="Templates"/>, or <see cref="SubjectPrompt"/> alone.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> SubjectPrompts => Templates is { Length: > 0 } list ? list.Select(PromptFrom).ToArray() : [SubjectPrompt];

    private string PromptFrom(string template) => template.Replace("{placeholder}", Placeholder).Replace("{class}", ClassNoun);
    public string ClassPrompt => ClassTemplate.Replace("{class}", ClassNoun);

    /// <summary>The depth this run uses (the kind's default where <see cref="Depth"/> is null).</summary>
    [JsonIgnore]
    public int EffectiveDepth => Depth ?? (Kind == ConceptKind.Style ? StyleDepth : SubjectDepth);

    /// <summary>
    /// Checks what can be checked without a model; a setting that cannot work is a <see cref="TrainingSettingException"/>
    /// naming it (a front end maps it to its own option name).
    /// </summary>
    public void Validate()
    {
        static void Require(bool ok, string setting, string message)
        {
            if (!ok) throw new TrainingSettingException(setting, message);
        }
        static bool Finite(float v) => float.IsFinite(v);

        Require(!string.IsNullOrWhiteSpace(ClassNoun), nameof(ClassNoun), "the class noun must not be empty (e.g. dog)");
        Require(!string.IsNullOrWhiteSpace(Placeholder), nameof(Placeholder), "the placeholder must not be empty (e.g. [V])");
        Require(!ClassNoun.Contains(Placeholder, StringComparison.Ordinal), nameof(ClassNoun),
            $"the class noun '{ClassNoun}' contains the placeholder {Placeholder}");
        Require(Steps > 0, nameof(Steps), $"steps must be positive, got {Steps}");
        Require(Depth is null or > 0, nameof(Depth), $"the depth (layers) must be positive, got {Depth}");
        Require(Enum.IsDefined(Method), nameof(Method), $"unknown training method '{Method}'");
        Require(!TrainsConcept || (TextSlots >= 0 && ImageSlots >= 0 && TextSlots + ImageSlots > 0), nameof(TextSlots),
            $"a concept needs at least one text or image token per layer (got {TextSlots} text, {ImageSlots} image)");
        Require(Enum.IsDefined(Weights), nameof(Weights), $"unknown weight training '{Weights}'");
        Require((Weights != WeightTraining.None) == Method is TrainingMethod.Lora or TrainingMethod.PersonalAr, nameof(Weights),
            Method is TrainingMethod.Lora or TrainingMethod.PersonalAr
                ? $"{Method} trains the backbone's projections: Weights must be Lora or Full"
                : $"{Method} keeps the backbone frozen: Weights must be None, got {Weights}");
        Require(Method != TrainingMethod.Lora || Weights == WeightTraining.Lora, nameof(Weights), "the LoRA method trains LoRA adapters (Weights = Lora)");
        if (Method == TrainingMethod.Lora)
            Require(TextSlots == 0 && ImageSlots == 0 && !Casr, nameof(Method), "LoRA trains no context tokens (no text or image slots, no CASR)");
        if (Weights == WeightTraining.Full)
            Require(LoraRank is null && LoraAlpha is null, nameof(LoraRank), "a LoRA rank or alpha is set, but full fine-tuning trains the weights themselves (no LoRA)");
        if (Weights == WeightTraining.Lora)
        {
            Require(EffectiveLoraRank is > 0 and <= 4096, nameof(LoraRank), $"the LoRA rank must be 1 to 4096, got {LoraRank}");
            Require(LoraAlpha is not { } a || (Finite(a) && a > 0), nameof(LoraAlpha), $"the LoRA alpha must be a positive number, got {LoraAlpha}");
        }
        if (Weights != WeightTraining.None)
        {
            var names = (LoraTargets ?? "q,k,v").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Require(names.Length > 0, nameof(LoraTargets), "training the backbone needs at least one target projection (q, k, v, o, gate, up, down)");
            foreach (var name in names)
                Require(Projections.Parse(name) is not null, nameof(LoraTargets), $"'{name}' is none of q, k, v, o, gate, up, down (or q_proj, ... as PEFT names them)");
            Require(DecayedTokens is DecayedTokens.All or DecayedTokens.None, nameof(DecayedTokens),
                "with trained weights the weight decay applies to every trained value or none");
            Require(Template.Contains("{placeholder}", StringComparison.Ordinal), nameof(Template),
                $"the prompt template '{Template}' has no {{placeholder}} for the subject's identifier");
        }
        Require(TextSlots <= 64 && ImageSlots <= 64, nameof(TextSlots), "at most 64 text and 64 image tokens per layer");
        Require(Resolution is not { } r || (r >= 32 && r % 32 == 0), nameof(Resolution),
            $"the resolution must be a positive multiple of 32 pixels, got {Resolution}");

        Require(Finite(LearningRate) && LearningRate > 0, nameof(LearningRate), $"the learning rate must be a positive number, got {F(LearningRate)}");
        Require(Finite(Beta1) && Beta1 is >= 0 and < 1, nameof(Beta1), $"beta1 must be in [0, 1), got {F(Beta1)}");
        Require(Finite(Beta2) && Beta2 is >= 0 and < 1, nameof(Beta2), $"beta2 must be in [0, 1), got {F(Beta2)}");
        Require(Finite(AdamEps) && AdamEps > 0, nameof(AdamEps), $"Adam's epsilon must be a positive number, got {F(AdamEps)}");
        Require(Finite(WeightDecay) && WeightDecay >= 0, nameof(WeightDecay), $"the weight decay must be a number >= 0, got {F(WeightDecay)}");
        Require(WeightDecay * LearningRate < 1, nameof(WeightDecay),
            $"lr x weight decay = {F(WeightDecay * LearningRate)} would flip the tokens' sign every update (it must be below 1)");
        Require(Enum.IsDefined(DecayedTokens), nameof(DecayedTokens), $"unknown decayed tokens '{DecayedTokens}'");
        Require(Finite(GradientClip) && GradientClip >= 0, nameof(GradientClip), $"the gradient clip must be a number >= 0 (0: off), got {F(GradientClip)}");
        Require(WarmupSteps >= 0, nameof(WarmupSteps), $"warmup steps must be 0 or more, got {WarmupSteps}");
        Require(Enum.IsDefined(Schedule), nameof(Schedule), $"unknown schedule '{Schedule}'");
        Require(Finite(MinLearningRate) && MinLearningRate >= 0 && MinLearningRate <= LearningRate, nameof(MinLearningRate),
            $"the minimum learning rate must be in [0, lr = {F(LearningRate)}], got {F(MinLearningRate)}");
        Require(Finite(ZLossWeight) && ZLossWeight >= 0, nameof(ZLossWeight), $"the z-loss weight must be a number >= 0, got {F(ZLossWeight)}");

        foreach (var (name, value) in new[] { (nameof(Lambda1), Lambda1), (nameof(Lambda2), Lambda2), (nameof(Alpha), Alpha), (nameof(BetaCasr), BetaCasr) })
            Require(Finite(value) && value >= 0, name, $"{name} must be a number >= 0, got {F(value)}");
        Require(!Dpp || ClassImages is > 0 and <= 10_000, nameof(ClassImages), $"DPP needs 1 to 10000 class images, got {ClassImages}");
        Require(Accumulation is > 0 and <= 10_000, nameof(Accumulation), $"accumulation must be 1 to 10000 passes per step, got {Accumulation}");
        Require(Enum.IsDefined(Crop), nameof(Crop), $"unknown crop mode '{Crop}'");
        Require(Enum.IsDefined(NtpTargets), nameof(NtpTargets), $"unknown NTP targets '{NtpTargets}'");
        Require(Seed >= 0, nameof(Seed), $"the seed must be 0 or more, got {Seed}");
        Require(CheckpointEvery >= 0, nameof(CheckpointEvery), $"checkpoint-every must be 0 (never) or more, got {CheckpointEvery}");
        Require(ValidateEvery >= 0, nameof(ValidateEvery), $"validate-every must be 0 (never) or more, got {ValidateEvery}");
        Require(ValidationPrompt is null || ValidationPrompt.Contains(Placeholder, StringComparison.Ordinal) || TextSlots == 0, nameof(ValidationPrompt),
            $"the validation prompt \"{ValidationPrompt}\" does not contain the placeholder {Placeholder}");
        Require(Enum.IsDefined(Method), nameof(Method), $"unknown training method '{Method}'");
        Require(Enum.IsDefined(TextInit), nameof(TextInit), $"unknown text initialization '{TextInit}'");
        Require(Templates is null || Templates.Length is > 0 and <= 1000, nameof(Templates), "give 1 to 1000 prompt templates, or none");
        foreach (var t in Templates ?? [Template])
            Require(TextSlots == 0 || t.Contains("{placeholder}", StringComparison.Ordinal), nameof(Template),
                $"the prompt template '{t}' has no {{placeholder}} for the text tokens");
        int references = References?.Length ?? 0;
        Require(references <= MaxReferences && (References ?? []).All(f => !string.IsNullOrWhiteSpace(f)), nameof(References),
            $"at most {MaxReferences} reference image files, none of them an empty name (got {references})");
        foreach (var (name, text) in (Templates ?? [Template]).Select(t => (nameof(Template), t)).Append((nameof(ValidationPrompt), ValidationPrompt ?? "")))
        {
            int symbols = LuminaPrompt.ImagePlaceholderCount(text);
            Require(symbols == 0 || symbols == references, name,
                $"'{text}' holds {symbols} {LuminaPrompt.ImagePlaceholder} but {references} reference image(s) are given: give one per {LuminaPrompt.ImagePlaceholder}");
        }
    }

    /// <summary>
    /// These settings made concrete for a model: validated, the depth chosen (a default deeper than the model is clamped
    /// to its layer count, with a note; an explicit one is an error), the resolution checked against the engine's target
    /// size, and the prompts built once. Nothing expensive happens before this passes.
    /// </summary>
    public (TrainingSettings Settings, IReadOnlyList<string> Notes) Resolve(ChameleonConfig config, LuminaPrompt prompt)
    {
        Validate();
        var notes = new List<string>();
        int layers = config.NumLayers;
        int depth = EffectiveDepth;
        if (Method == TrainingMethod.Lora)
            depth = layers;
        else if (depth > layers)
        {
            if (Depth is not null)
                throw new TrainingSettingException(nameof(Depth), $"the depth {depth} exceeds the model's {layers} layers (use {layers} or fewer)");
            notes.Add($"depth {depth} (the paper's for a {Kind.ToString().ToLowerInvariant()}) exceeds the model's {layers} layers: using {layers}");
            depth = layers;
        }
        int resolution = Resolution ?? prompt.TargetSize;
        try
        {
            LuminaImageSizes.Validate(resolution, resolution, prompt.TargetSize);
        }
        catch (ArgumentException)
        {
            throw new TrainingSettingException(nameof(Resolution),
                $"{resolution} px is larger than the model's target size {prompt.TargetSize} (train at {prompt.TargetSize} or less, or load the engine for a larger checkpoint)");
        }
        if (WarmupSteps >= Steps)
            notes.Add($"the warmup ({WarmupSteps} steps) is as long as the run ({Steps}): the learning rate never reaches {F(LearningRate)}");
        var resolved = this with { Depth = depth, Resolution = resolution };
        var placeholders = TextSlots > 0 ? new[] { new PromptPlaceholder(Placeholder, TextSlots) } : [];
        // The reference images are read later; stand-ins of the smallest size check where they go.
        var ids = prompt.Vocabulary.ToImageTokenIds();
        var images = Enumerable.Range(0, References?.Length ?? 0)
            .Select(_ => ReferenceImage.FromCodes("stand-in", ImageLayout.For(32, 32, ids), new int[4]).Tokens).ToList();
        Check(() => prompt.Build(resolved.ClassPrompt, resolution, resolution), nameof(ClassNoun), "the class prompt");
        foreach (var subjectPrompt in resolved.SubjectPrompts)
            Check(() => prompt.Build(subjectPrompt, resolution, resolution, placeholders, images), nameof(Template), $"the training prompt \"{subjectPrompt}\"");
        if (ValidationPrompt is not null)
            Check(() => prompt.Build(ValidationPrompt, resolution, resolution, placeholders, images), nameof(ValidationPrompt), "the validation prompt");
        return (resolved, notes);
    }

    private static void Check(Action build, string setting, string what)
    {
        try
        {
            build();
        }
        catch (ArgumentException e)
        {
            throw new TrainingSettingException(setting, $"{what} does not build: {e.Message}");
        }
    }

    /// <summary>Every effective setting as "name value" lines, for the start of a run.</summary>
    public IReadOnlyList<string> Describe() =>
    [
        Method == TrainingMethod.PersonalAr
            ? $"method: personalar stage 2: the {Placeholder} embedding (from stage 1) and " +
              (Weights == WeightTraining.Full
                  ? $"the full weights of {string.Join(", ", LoraProjections.Select(p => p.ModuleName()))} of every layer (an F32 change on the loaded weights)"
                  : $"LoRA rank {EffectiveLoraRank}, alpha {F(LoraAlpha ?? EffectiveLoraRank)} on {string.Join(", ", LoraProjections.Select(p => p.ModuleName()))} of every layer") +
              ", one learning rate for both"
        : Method == TrainingMethod.Lora
            ? $"method: LoRA rank {EffectiveLoraRank}, alpha {F(LoraAlpha ?? EffectiveLoraRank)} (scale {F((LoraAlpha ?? EffectiveLoraRank) / EffectiveLoraRank)}) on {string.Join(", ", LoraProjections.Select(p => p.ModuleName()))} of every layer; " +
              $"{Kind.ToString().ToLowerInvariant()} identifier {Placeholder} as plain prompt text, class \"{ClassNoun}\""
            : $"method: {(Method == TrainingMethod.Coar ? "coar (context tokens)" : "textual-inversion (PersonalAR stage 1: the [V] input embedding)")}, text tokens start at " +
              (TextInit == TextInit.Random ? "random (token-embedding scale)" : "the class noun's states"),
        $"concept: {Kind.ToString().ToLowerInvariant()} {Placeholder}, class \"{ClassNoun}\", depth {EffectiveDepth}, {TextSlots} text + {ImageSlots} image token(s) per layer" +
            (IndexEmbedding ? ", a token-index embedding on its slots and class noun" : ""),
        (Templates is { Length: > 1 } ? $"prompts: {Templates.Length} templates, one drawn per pass, e.g. \"{SubjectPrompt}\"" : $"prompts: \"{SubjectPrompt}\"") +
            $"; class \"{ClassPrompt}\"" +
            (References is { Length: > 0 } refs ? $"; reference image(s) in the training prompt: {string.Join(", ", refs)}" : ""),
        $"steps {Steps}, {Accumulation} pass(es) per step, resolution {Resolution?.ToString(CultureInfo.InvariantCulture) ?? "target"}, crop {Crop.ToString().ToLowerInvariant()}, photo order shuffled per epoch, seed {Seed}",
        $"optimizer: AdamW(beta1 {F(Beta1)}, beta2 {F(Beta2)}, eps {F(AdamEps)}), weight decay {F(WeightDecay)} on {(Weights != WeightTraining.None ? (DecayedTokens == DecayedTokens.None ? "nothing" : "every trained value" + (Weights == WeightTraining.Full ? " (full weights: their change, towards the loaded weights)" : "")) : DecayedTokens.ToString().ToLowerInvariant() + " tokens")}, gradient clip {(GradientClip > 0 ? F(GradientClip) : "off")}, no dropout (frozen backbone)",
        $"learning rate {F(LearningRate)}: {WarmupSteps} warmup step(s), then " +
            (Schedule == LearningRateSchedule.Constant ? "constant" : $"cosine to {F(MinLearningRate)}"),
        $"loss: ntp ({(NtpTargets == NtpTargets.Codes ? "image codes over the codes" : "every image-phase token over the vocabulary")}) + z-loss {F(ZLossWeight)}" +
            (Dpp ? $" + alpha {F(Alpha)} x dpp (lambda1 {F(Lambda1)}, lambda2 {F(Lambda2)}, {ClassImages} class images)" : " (no dpp)") +
            (Casr ? $" + beta {F(BetaCasr)} x casr" : " (no casr)"),
        $"checkpoint every {(CheckpointEvery > 0 ? $"{CheckpointEvery} steps" : "- (never)")}, validation image every " +
            (ValidateEvery > 0 ? $"{ValidateEvery} steps (\"{ValidationPrompt ?? SubjectPrompt}\")" : "- (never)"),
    ];

    /// <summary>The settings as stored in concept files and checkpoints (enums by name).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, TrainingJson.Default.TrainingSettings);

    public static TrainingSettings FromJson(string json) =>
        JsonSerializer.Deserialize(json, TrainingJson.Default.TrainingSettings) ?? throw new InvalidDataException("empty training settings");

    private static string F(float v) => v.ToString("G4", CultureInfo.InvariantCulture);
}
