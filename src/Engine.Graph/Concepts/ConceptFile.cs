using System.Globalization;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Concepts;

/// <summary>
/// A concept on disk: one safetensors file with tensors `text` [N, kT, D] and `image` [N, kI, D] (F32) and metadata
/// (format version, kind, placeholder, class noun, depth, base model fingerprint, training settings, steps, final
/// losses), and `index` [D] when the concept has a token-index embedding. Training checkpoints add `adam.m.*`,
/// `adam.v.*` and the step.
/// </summary>
public static class ConceptFile
{
    public const string FormatVersion = "coar-concept/1";

    public sealed record Info(Concept Concept, string BaseModel, IReadOnlyDictionary<string, string> Metadata);

    public static void Save(string path, Concept c, string baseModelFingerprint, IReadOnlyDictionary<string, string>? extra = null,
        IReadOnlyDictionary<string, float[]>? extraTensors = null)
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = FormatVersion,
            ["kind"] = c.Kind.ToString().ToLowerInvariant(),
            ["placeholder"] = c.Placeholder,
            ["class"] = c.ClassNoun,
            ["depth"] = c.Depth.ToString(CultureInfo.InvariantCulture),
            ["base_model"] = baseModelFingerprint,
        };
        if (extra is not null)
            foreach (var (k, v) in extra) meta[k] = v;
        var writer = new SafeTensorsWriter(meta);
        writer.Add<float>("text", DType.F32, [c.Depth, c.TextSlots, c.Hidden], c.Text);
        writer.Add<float>("image", DType.F32, [c.Depth, c.ImageSlots, c.Hidden], c.Image);
        if (c.Index is not null)
            writer.Add<float>("index", DType.F32, [c.Hidden], c.Index);
        if (extraTensors is not null)
            foreach (var (name, values) in extraTensors)
                writer.Add<float>(name, DType.F32, [values.Length], values);
        writer.WriteTo(path);
    }

    /// <summary>Loads a concept; with <paramref name="expectedBaseModel"/>, refuses one trained on another base model.</summary>
    public static Info Load(string path, string? expectedBaseModel = null) => Load(path, expectedBaseModel, out _);

    /// <summary>The largest concept or training checkpoint read: a 7B concept of 32 layers is ~1 MiB, with Adam's state ~3 MiB.</summary>
    public const long MaxFileBytes = 256L << 20;

    public static Info Load(string path, string? expectedBaseModel, out Dictionary<string, float[]> extraTensors)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"concept file '{path}' not found", path);
        if (new FileInfo(path).Length > MaxFileBytes)
            throw new InvalidDataException($"{path}: {new FileInfo(path).Length} bytes, more than the {MaxFileBytes} a concept file can be");
        using var file = SafeTensorsFile.Open(path);
        var meta = file.Metadata;
        string Field(string name) => meta.TryGetValue(name, out var v) ? v
            : throw new InvalidDataException($"{path}: not a CoAR concept file (metadata field '{name}' is missing)");
        if (Field("format") != FormatVersion)
            throw new InvalidDataException($"{path}: concept format '{meta["format"]}', this engine reads '{FormatVersion}'");
        if (!Enum.TryParse<ConceptKind>(Field("kind"), ignoreCase: true, out var kind))
            throw new InvalidDataException($"{path}: concept kind '{meta["kind"]}' is neither subject nor style");
        string baseModel = Field("base_model");
        if (expectedBaseModel is not null && baseModel != expectedBaseModel)
            throw new InvalidDataException(
                $"{path}: this concept was trained on base model {baseModel}, but the loaded model is {expectedBaseModel}; concepts only work with the model they were trained on");
        var text = file.GetTensor("text");
        var image = file.GetTensor("image");
        foreach (var t in new[] { text, image })
            if (t.DType != DType.F32 || t.Shape.Length != 3)
                throw new InvalidDataException($"{path}: tensor '{t.Name}' is {t.DType}[{string.Join(", ", t.Shape)}], expected F32 [depth, slots, hidden]");
        foreach (var t in new[] { text, image })
            if (t.Shape[0] is < 1 or > 1024 || t.Shape[1] > 1024 || t.Shape[2] is < 1 or > 1 << 16)
                throw new InvalidDataException($"{path}: tensor '{t.Name}' has shape [{string.Join(", ", t.Shape)}]; expected [depth 1-1024, slots 0-1024, hidden 1-65536]");
        int depth = (int)text.Shape[0], hidden = (int)text.Shape[2];
        if (image.Shape[0] != depth || image.Shape[2] != hidden)
            throw new InvalidDataException($"{path}: 'text' [{string.Join(", ", text.Shape)}] and 'image' [{string.Join(", ", image.Shape)}] disagree on depth or hidden size");
        if (!int.TryParse(Field("depth"), NumberStyles.None, CultureInfo.InvariantCulture, out int metaDepth) || metaDepth != depth)
            throw new InvalidDataException($"{path}: metadata depth '{meta["depth"]}' but tensors have {depth} layers");
        var textValues = new float[text.ElementCount];
        var imageValues = new float[image.ElementCount];
        file.CopyTo<float>(text, textValues);
        file.CopyTo<float>(image, imageValues);
        float[]? indexValues = null;
        if (file.Tensors.FirstOrDefault(t => t.Name == "index") is { } index)
        {
            if (index.DType != DType.F32 || index.Shape.Length != 1 || index.Shape[0] != hidden)
                throw new InvalidDataException($"{path}: tensor 'index' is {index.DType}[{string.Join(", ", index.Shape)}], expected F32 [{hidden}] (the token-index embedding)");
            indexValues = new float[hidden];
            file.CopyTo<float>(index, indexValues);
        }
        Concept concept;
        try
        {
            concept = new Concept(kind, Field("placeholder"), meta.GetValueOrDefault("class", ""), depth, (int)text.Shape[1], (int)image.Shape[1], hidden,
                textValues, imageValues, indexValues);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{path}: not a usable concept: {e.Message}");
        }
        extraTensors = new Dictionary<string, float[]>();
        foreach (var t in file.Tensors.Where(t => t.Name is not ("text" or "image" or "index")))
        {
            if (t.DType != DType.F32 || t.Shape.Length != 1)
                throw new InvalidDataException($"{path}: tensor '{t.Name}' is {t.DType}[{string.Join(", ", t.Shape)}], expected a 1-d F32 vector");
            var v = new float[t.ElementCount];
            file.CopyTo<float>(t, v);
            extraTensors[t.Name] = v;
        }
        return new Info(concept, baseModel, meta);
    }

    /// <summary>Checks that a concept fits a model's hidden size and depth.</summary>
    public static void CheckFits(Concept c, ChameleonConfig config, string source)
    {
        if (c.Hidden != config.HiddenSize)
            throw new InvalidDataException($"{source}: concept vectors have {c.Hidden} dims, the model's hidden size is {config.HiddenSize}");
        if (c.Depth > config.NumLayers)
            throw new InvalidDataException($"{source}: concept depth {c.Depth} exceeds the model's {config.NumLayers} layers");
    }
}
