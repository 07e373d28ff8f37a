using System.Text.Json;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Graph.Model;

/// <summary>
/// The architecture fields of a Chameleon / Lumina-mGPT config.json. Unknown fields are ignored; a missing required
/// field or a value of the wrong kind is an error naming the field.
/// </summary>
public sealed record ChameleonConfig
{
    public required int HiddenSize { get; init; }
    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }
    public required int NumKvHeads { get; init; }
    public required int IntermediateSize { get; init; }
    public required int VocabSize { get; init; }
    public float RmsNormEps { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    public bool SwinNorm { get; init; }
    public bool QkLayerNorm { get; init; } = true;
    public bool TieWordEmbeddings { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 4096;
    public string TorchDType { get; init; } = "bfloat16";

    /// <summary>Token name -> id, from config.json's vocabulary_map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, int> VocabularyMap { get; init; } = new Dictionary<string, int>();

    /// <summary>The qk LayerNorm's epsilon: PyTorch's LayerNorm default, which Chameleon does not override.</summary>
    public const float QkNormEps = 1e-5f;

    public int HeadDim => HiddenSize / NumHeads;
    public int KvDim => NumKvHeads * HeadDim;

    /// <summary>The largest config.json read (real ones are a few KiB; the vocabulary_map makes them up to ~2 MiB).</summary>
    public const long MaxFileBytes = 64L << 20;

    public static ChameleonConfig Load(string path)
    {
        string text;
        try
        {
            text = InputFile.ReadAllText(path, MaxFileBytes, "model config");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot read the model config: {e.Message}", e);
        }
        return Parse(text, path);
    }

    public static ChameleonConfig Parse(string json, string sourceName)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{sourceName}: not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{sourceName}: expected a JSON object, found {root.ValueKind}");
            var reader = new Fields(root, sourceName);
            if (root.TryGetProperty("rope_scaling", out var scaling) && scaling.ValueKind != JsonValueKind.Null)
                throw new ModelFormatException($"{sourceName}: field 'rope_scaling' is {scaling.GetRawText()}; only null (no RoPE scaling) is supported");
            if (reader.Bool("attention_bias", false))
                throw new ModelFormatException($"{sourceName}: field 'attention_bias' is true; Chameleon's attention has no bias and the engine supports none");
            if (reader.Bool("mlp_bias", false))
                throw new ModelFormatException($"{sourceName}: field 'mlp_bias' is true; Chameleon's MLP has no bias and the engine supports none");
            // Caps far above any Chameleon (7B: 4096 wide, 32 layers, 11008, 65536 tokens), so that a damaged number fails
            // here and not as a giant allocation later.
            int heads = reader.PositiveInt("num_attention_heads", max: 1024);
            var config = new ChameleonConfig
            {
                HiddenSize = reader.PositiveInt("hidden_size", max: 1 << 16),
                NumLayers = reader.PositiveInt("num_hidden_layers", max: 1024),
                NumHeads = heads,
                NumKvHeads = reader.PositiveInt("num_key_value_heads", heads, max: 1024),
                IntermediateSize = reader.PositiveInt("intermediate_size", max: 1 << 18),
                VocabSize = reader.PositiveInt("vocab_size", max: 1 << 20),
                RmsNormEps = reader.PositiveFloat("rms_norm_eps", 1e-5f),
                RopeTheta = reader.PositiveFloat("rope_theta", 10000f),
                SwinNorm = reader.Bool("swin_norm", false),
                QkLayerNorm = reader.Bool("qk_layernorm", true),
                TieWordEmbeddings = reader.Bool("tie_word_embeddings", false),
                MaxPositionEmbeddings = reader.PositiveInt("max_position_embeddings", 4096, max: 1 << 20),
                TorchDType = reader.String("torch_dtype", "bfloat16"),
                VocabularyMap = reader.VocabularyMap("vocabulary_map"),
            };
            config.Validate(sourceName);
            return config;
        }
    }

    public void Validate(string sourceName)
    {
        if (HiddenSize % NumHeads != 0)
            throw new ModelFormatException($"{sourceName}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumHeads}");
        if (NumHeads % NumKvHeads != 0)
            throw new ModelFormatException($"{sourceName}: num_key_value_heads {NumKvHeads} does not divide num_attention_heads {NumHeads}");
        if (HeadDim % 2 != 0)
            throw new ModelFormatException($"{sourceName}: head dimension {HeadDim} must be even for rotary embeddings");
        if (TorchDType is not ("bfloat16" or "float16" or "float32"))
            throw new ModelFormatException($"{sourceName}: torch_dtype '{TorchDType}' is not one of bfloat16, float16, float32");
        foreach (var (name, id) in VocabularyMap)
            if (id < 0 || id >= VocabSize)
                throw new ModelFormatException($"{sourceName}: vocabulary_map entry '{name}' has id {id}, outside [0, vocab_size={VocabSize})");
    }

    /// <summary>Typed access to config fields with errors that name the field.</summary>
    private readonly struct Fields(JsonElement root, string source)
    {
        private bool TryGet(string name, out JsonElement value) =>
            root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

        public int PositiveInt(string name, int? fallback = null, int max = int.MaxValue)
        {
            if (!TryGet(name, out var v))
                return fallback ?? throw new ModelFormatException($"{source}: missing required field '{name}'");
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int i) || i <= 0)
                throw new ModelFormatException($"{source}: field '{name}' must be a positive integer, found {Shorten(v.GetRawText())}");
            if (i > max)
                throw new ModelFormatException($"{source}: field '{name}' is {i}, more than the {max} the engine accepts");
            return i;
        }

        private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";

        public float PositiveFloat(string name, float fallback)
        {
            if (!TryGet(name, out var v)) return fallback;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !(d > 0) || double.IsInfinity(d))
                throw new ModelFormatException($"{source}: field '{name}' must be a positive number, found {v.GetRawText()}");
            return (float)d;
        }

        public bool Bool(string name, bool fallback)
        {
            if (!TryGet(name, out var v)) return fallback;
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ModelFormatException($"{source}: field '{name}' must be true or false, found {v.GetRawText()}"),
            };
        }

        public string String(string name, string fallback)
        {
            if (!TryGet(name, out var v)) return fallback;
            return v.ValueKind == JsonValueKind.String
                ? v.GetString()!
                : throw new ModelFormatException($"{source}: field '{name}' must be a string, found {v.GetRawText()}");
        }

        public IReadOnlyDictionary<string, int> VocabularyMap(string name)
        {
            var map = new Dictionary<string, int>(StringComparer.Ordinal);
            if (!TryGet(name, out var v)) return map;
            if (v.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{source}: field '{name}' must be an object of token name -> id, found {v.ValueKind}");
            foreach (var p in v.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id))
                    throw new ModelFormatException($"{source}: {name}['{p.Name}'] must be an integer id, found {p.Value.GetRawText()}");
                map[p.Name] = id;
            }
            return map;
        }
    }
}
