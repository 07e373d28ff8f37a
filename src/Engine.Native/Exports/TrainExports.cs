using System.Runtime.InteropServices;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Tools;

namespace CoAR.Engine.Native.Exports;

/// <summary>coar.h, "training": the paper's defaults per kind, and training a concept from image files.</summary>
internal static unsafe class TrainExports
{
    private static readonly NativeStrings Placeholders = new(new TrainingSettings { ClassNoun = "" }.Placeholder, TrainingSettings.ForStyle("").Placeholder);

    [UnmanagedCallersOnly(EntryPoint = "coar_train_options_default")]
    public static NativeTrainOptions OptionsDefault(int kind)
    {
        var s = kind == (int)ConceptKind.Style ? TrainingSettings.ForStyle("") : new TrainingSettings { ClassNoun = "" };
        return new NativeTrainOptions
        {
            Kind = (int)s.Kind, Placeholder = Placeholders[(int)s.Kind], Steps = s.Steps, Layers = s.Depth ?? 0, TextSlots = s.TextSlots,
            ImageSlots = s.ImageSlots, LearningRate = s.LearningRate, Resolution = s.Resolution ?? 0, PriorPreservation = s.Dpp ? 1 : 0,
            ClassImages = s.ClassImages, SelfRegularization = s.Casr ? 1 : 0, Accumulation = s.Accumulation,
            RandomCrop = s.Crop == CropMode.Random ? 1 : 0, Seed = s.Seed,
        };
    }

    [UnmanagedCallersOnly(EntryPoint = "coar_train_concept")]
    public static int Train(nint engine, byte** imagePaths, int imageCount, NativeTrainOptions* options, nint* concept) => NativeCall.Run(() =>
    {
        const string call = "coar_train_concept";
        NativeCall.RequireOutput(concept, call, "concept");
        if (options == null) throw NativeCall.InvalidArgument($"{call}: options is NULL (start from coar_train_options_default())");
        var e = HandleTable.Get<NativeEngine>(engine, $"{call}: engine");
        if (imageCount <= 0) throw NativeCall.InvalidArgument($"{call}: image_count is {imageCount}, expected 1 or more images of the concept");
        if (imagePaths == null) throw NativeCall.InvalidArgument($"{call}: image_paths is NULL");
        var files = new string[imageCount];
        for (int i = 0; i < imageCount; i++) files[i] = NativeStrings.Required(imagePaths[i], $"{call}: image_paths[{i}]");
        var o = *options;
        var settings = Settings(call, o);
        string workDir = NativeStrings.Read(o.WorkDir) ?? BuiltInModel.CacheRoot();
        using var claim = e.Enter(call);
        using var cancellation = new CallCancellation(o.Cancel);
        var progress = o.OnStep == null ? null : new TrainStepCallback(o.OnStep, o.UserData, cancellation);
        NativeCall.Cancellable(cancellation, call, token =>
        {
            var trained = e.Engine.TrainConcept(files, settings, workDir, progress, token);
            *concept = HandleTable.Add(new NativeConcept(trained, e.Engine.Fingerprint));
        });
    });

    private static TrainingSettings Settings(string call, NativeTrainOptions o)
    {
        if (o.Kind is not ((int)ConceptKind.Subject or (int)ConceptKind.Style))
            throw NativeCall.InvalidArgument($"{call}: options->kind is {o.Kind}, expected COAR_CONCEPT_SUBJECT (0) or COAR_CONCEPT_STYLE (1)");
        var kind = (ConceptKind)o.Kind;
        var template = kind == ConceptKind.Style ? TrainingSettings.ForStyle("") : new TrainingSettings { ClassNoun = "" };
        string noun = NativeStrings.Required(o.ClassNoun, $"{call}: options->class_noun");
        if (string.IsNullOrWhiteSpace(noun)) throw NativeCall.InvalidArgument($"{call}: options->class_noun is empty");
        var settings = template with
        {
            ClassNoun = noun, Placeholder = NativeStrings.Required(o.Placeholder, $"{call}: options->placeholder"), Steps = o.Steps,
            Depth = o.Layers == 0 ? null : o.Layers, TextSlots = o.TextSlots, ImageSlots = o.ImageSlots, LearningRate = o.LearningRate,
            Resolution = o.Resolution == 0 ? null : o.Resolution, Dpp = o.PriorPreservation != 0, ClassImages = o.ClassImages,
            Casr = o.SelfRegularization != 0, Accumulation = o.Accumulation, Crop = o.RandomCrop != 0 ? CropMode.Random : CropMode.Center,
            Seed = o.Seed,
        };
        settings.Validate();
        return settings;
    }
}
