using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tools;

namespace CoAR.Engine.Native.Exports;

/// <summary>
/// coar.h, "training" and "training methods": the defaults per kind and per method, training a concept (CoAR), and
/// training by a method (CoAR, textual inversion, LoRA, PersonalAR) from image files.
/// </summary>
internal static unsafe class TrainExports
{
    private const int Coar = 0, TextualInversion = 1, Lora = 2, PersonalAr = 3;

    private static readonly NativeStrings Placeholders = new(
        new TrainingSettings { ClassNoun = "" }.Placeholder, TrainingSettings.ForStyle("").Placeholder, TrainingSettings.LoraIdentifier);

    [UnmanagedCallersOnly(EntryPoint = "coar_train_options_default")]
    public static NativeTrainOptions OptionsDefault(int kind) =>
        ToNative(kind == (int)ConceptKind.Style ? TrainingSettings.ForStyle("") : new TrainingSettings { ClassNoun = "" });

    [UnmanagedCallersOnly(EntryPoint = "coar_train_options_for_method")]
    public static NativeTrainOptions OptionsForMethod(int method) =>
        method is >= Coar and <= PersonalAr ? ToNative(Preset(method, ConceptKind.Subject)) : default;

    [UnmanagedCallersOnly(EntryPoint = "coar_method_options_default")]
    public static NativeMethodOptions MethodOptionsDefault(int method) => new() { Method = method };

    [UnmanagedCallersOnly(EntryPoint = "coar_train_concept")]
    public static int Train(nint engine, byte** imagePaths, int imageCount, NativeTrainOptions* options, nint* concept) => NativeCall.Run(() =>
    {
        const string call = "coar_train_concept";
        NativeCall.RequireOutput(concept, call, "concept");
        var method = new NativeMethodOptions { Method = Coar };
        Run(call, engine, imagePaths, imageCount, options, &method, concept);
    });

    [UnmanagedCallersOnly(EntryPoint = "coar_train")]
    public static int TrainByMethod(nint engine, byte** imagePaths, int imageCount, NativeTrainOptions* options, NativeMethodOptions* method, nint* concept) =>
        NativeCall.Run(() =>
        {
            const string call = "coar_train";
            if (method == null) throw NativeCall.InvalidArgument($"{call}: method is NULL (start from coar_method_options_default())");
            if (method->Method != Lora) NativeCall.RequireOutput(concept, call, "concept");
            Run(call, engine, imagePaths, imageCount, options, method, concept);
        });

    private static void Run(string call, nint engine, byte** imagePaths, int imageCount, NativeTrainOptions* options, NativeMethodOptions* method, nint* concept)
    {
        if (options == null) throw NativeCall.InvalidArgument($"{call}: options is NULL (start from coar_train_options_default())");
        var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
        if (imageCount <= 0) throw NativeCall.InvalidArgument($"{call}: image_count is {imageCount}, expected 1 or more images of the concept");
        if (imagePaths == null) throw NativeCall.InvalidArgument($"{call}: image_paths is NULL");
        var files = new string[imageCount];
        for (int i = 0; i < imageCount; i++) files[i] = NativeStrings.Required(imagePaths[i], $"{call}: image_paths[{i}]");
        var o = *options;
        var m = *method;
        var settings = Settings(call, o, m);
        string? outputDir = OutputDirectory(call, m);
        string workDir = NativeStrings.Read(o.WorkDir) ?? BuiltInModel.CacheRoot();
        PersonalArSettings? personal = m.Method == PersonalAr ? Stage2(call, settings, m) : null;
        using var claim = e.Enter(call);
        using var cancellation = new CallCancellation(o.Cancel);
        var progress = o.OnStep == null ? null : new TrainStepCallback(o.OnStep, o.UserData, cancellation);
        NativeCall.Cancellable(cancellation, call, token =>
        {
            Concept? trained = m.Method switch
            {
                Lora => TrainLora(e, files, settings, workDir, outputDir!, progress, token),
                PersonalAr => e.Engine.TrainPersonalAr(files, personal!, workDir, outputDir, progress, token).Concept,
                _ => e.Engine.TrainConcept(files, settings, workDir, progress, token),
            };
            if (concept != null) *concept = trained is null ? 0 : HandleTable.Add(new NativeConcept(trained, e.Engine.Fingerprint));
        });
    }

    /// <summary>LoRA makes no concept: the adapter is in <paramref name="outputDir"/>.</summary>
    private static Concept? TrainLora(NativeEngine e, string[] files, TrainingSettings settings, string workDir, string outputDir,
        TrainStepCallback? progress, CancellationToken token)
    {
        e.Engine.TrainLora(files, settings, workDir, outputDir, progress, token);
        return null;
    }

    /// <summary>What a method starts from, for a kind; the C options then set the concept's part.</summary>
    private static TrainingSettings Preset(int method, ConceptKind kind)
    {
        var plain = kind == ConceptKind.Style ? TrainingSettings.ForStyle("") : new TrainingSettings { ClassNoun = "" };
        return method switch
        {
            TextualInversion or PersonalAr => TrainingSettings.ForTextualInversion(""),
            Lora => plain.ForLora(),
            _ => plain,
        };
    }

    private static NativeTrainOptions ToNative(TrainingSettings s) => new()
    {
        Kind = (int)s.Kind, Placeholder = Placeholders[s.Placeholder == TrainingSettings.LoraIdentifier ? 2 : (int)s.Kind], Steps = s.Steps,
        Layers = s.Depth ?? 0, TextSlots = s.TextSlots, ImageSlots = s.ImageSlots, LearningRate = s.LearningRate, Resolution = s.Resolution ?? 0,
        PriorPreservation = s.Dpp ? 1 : 0, ClassImages = s.ClassImages, SelfRegularization = s.Casr ? 1 : 0, Accumulation = s.Accumulation,
        RandomCrop = s.Crop == CropMode.Random ? 1 : 0, Seed = s.Seed,
    };

    private static TrainingSettings Settings(string call, NativeTrainOptions o, NativeMethodOptions m)
    {
        if (m.Method is < Coar or > PersonalAr)
            throw NativeCall.InvalidArgument($"{call}: method->method is {m.Method}, expected COAR_METHOD_COAR (0), _TEXTUAL_INVERSION (1), _LORA (2) or _PERSONALAR (3)");
        if (o.Kind is not ((int)ConceptKind.Subject or (int)ConceptKind.Style))
            throw NativeCall.InvalidArgument($"{call}: options->kind is {o.Kind}, expected COAR_CONCEPT_SUBJECT (0) or COAR_CONCEPT_STYLE (1)");
        var kind = (ConceptKind)o.Kind;
        if (kind == ConceptKind.Style && m.Method is TextualInversion or PersonalAr)
            throw NativeCall.InvalidArgument($"{call}: options->kind is COAR_CONCEPT_STYLE, but {MethodName(m.Method)} learns a subject's [V] embedding (styles train with COAR_METHOD_COAR)");
        if (m.Method == Lora && o.Layers != 0)
            throw NativeCall.InvalidArgument($"{call}: options->layers is {o.Layers}: the context tokens' depth; LoRA adapts every layer (set 0)");
        if (m.Method is Coar or TextualInversion)
            foreach (var (name, given) in new[] { ("lora_rank", m.LoraRank != 0), ("lora_alpha", m.LoraAlpha != 0), ("targets", m.Targets != null),
                         ("stage2_lora", m.Stage2Lora != 0), ("stage2_steps", m.Stage2Steps != 0), ("stage2_learning_rate", m.Stage2LearningRate != 0) })
                if (given) throw NativeCall.InvalidArgument($"{call}: method->{name} is set, but {MethodName(m.Method)} trains no weights");
        string noun = NativeStrings.Required(o.ClassNoun, $"{call}: options->class_noun");
        if (string.IsNullOrWhiteSpace(noun)) throw NativeCall.InvalidArgument($"{call}: options->class_noun is empty");
        var settings = Preset(m.Method, kind) with
        {
            ClassNoun = noun, Placeholder = NativeStrings.Required(o.Placeholder, $"{call}: options->placeholder"), Steps = o.Steps,
            Depth = o.Layers == 0 ? null : o.Layers, TextSlots = o.TextSlots, ImageSlots = o.ImageSlots, LearningRate = o.LearningRate,
            Resolution = o.Resolution == 0 ? null : o.Resolution, Dpp = o.PriorPreservation != 0, ClassImages = o.ClassImages,
            Casr = o.SelfRegularization != 0, Accumulation = o.Accumulation, Crop = o.RandomCrop != 0 ? CropMode.Random : CropMode.Center,
            Seed = o.Seed,
        };
        if (m.Method == Lora)
            settings = settings with
            {
                LoraRank = m.LoraRank == 0 ? TrainingSettings.DefaultLoraRank : m.LoraRank, LoraAlpha = m.LoraAlpha == 0 ? null : m.LoraAlpha,
                LoraTargets = NativeStrings.Read(m.Targets) ?? "q,k,v",
            };
        settings.Validate();
        return settings;
    }

    /// <summary>PersonalAR's stage 2 after stage 1's <paramref name="stage1"/>, by the method options; both checked.</summary>
    private static PersonalArSettings Stage2(string call, TrainingSettings stage1, NativeMethodOptions m)
    {
        if (m.Stage2Steps < 0) throw NativeCall.InvalidArgument($"{call}: method->stage2_steps is {m.Stage2Steps}, expected 0 (400) or more");
        bool lora = m.Stage2Lora != 0;
        if (!lora && (m.LoraRank != 0 || m.LoraAlpha != 0))
            throw NativeCall.InvalidArgument($"{call}: method->lora_rank and lora_alpha belong to LoRA; stage2_lora 0 fine-tunes the weights themselves (set stage2_lora 1 for LoRA)");
        var settings = PersonalArSettings.After(stage1, lora ? WeightTraining.Lora : WeightTraining.Full,
            m.Stage2Steps != 0 ? m.Stage2Steps : null, m.Stage2LearningRate != 0 ? m.Stage2LearningRate : null,
            m.LoraRank != 0 ? m.LoraRank : null, m.LoraAlpha != 0 ? m.LoraAlpha : null, NativeStrings.Read(m.Targets));
        settings.Validate();
        return settings;
    }

    /// <summary>The output directory: required by LoRA and PersonalAR (a file there is refused), refused by the others.</summary>
    private static string? OutputDirectory(string call, NativeMethodOptions m)
    {
        string? dir = NativeStrings.Read(m.OutputDir);
        if (m.Method is Coar or TextualInversion)
            return dir is null ? null
                : throw NativeCall.InvalidArgument($"{call}: method->output_dir is set, but {MethodName(m.Method)} makes a concept (save it with coar_concept_save)");
        if (string.IsNullOrWhiteSpace(dir))
            throw NativeCall.InvalidArgument($"{call}: method->output_dir is {(dir is null ? "NULL" : "empty")}; {MethodName(m.Method)} writes its outputs to a directory");
        if (File.Exists(dir))
            throw NativeCall.InvalidArgument($"{call}: method->output_dir '{dir}' is a file; {MethodName(m.Method)} writes its outputs to a directory");
        return dir;
    }

    private static string MethodName(int method) => method switch
    {
        TextualInversion => "COAR_METHOD_TEXTUAL_INVERSION",
        Lora => "COAR_METHOD_LORA",
        PersonalAr => "COAR_METHOD_PERSONALAR",
        _ => "COAR_METHOD_COAR",
    };
}
