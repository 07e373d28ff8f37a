using CoAR.Engine.Managed.Files;
using System.Text.Json;

namespace CoAR.Engine.Graph.Imaging;

/// <summary>
/// The VQGAN (taming-transformers VQModel) hyper-parameters from Chameleon's vqgan.yaml, stored beside the weights as
/// vqgan.json with the yaml's own names (embed_dim, n_embed, and the ddconfig keys).
/// </summary>
public sealed record VqganConfig(
    int EmbedDim,
    int NEmbed,
    int ZChannels,
    int Ch,
    IReadOnlyList<int> ChMult,
    int NumResBlocks,
    IReadOnlyList<int> AttnResolutions,
    int Resolution,
    int InChannels,
    int OutCh,
    bool DoubleZ)
{
    /// <summary>GroupNorm in every block uses 32 groups, so every normalised channel count is a multiple of 32.</summary>
    public const int NormGroups = 32;

    /// <summary>Pixels per latent along a side: 2^(levels - 1).</summary>
    public int DownsampleFactor => 1 << (ChMult.Count - 1);

    /// <summary>Throws naming the first value that cannot describe a working VQGAN.</summary>
    public void Validate(string source)
    {
        void Positive(int value, string name)
        {
            if (value <= 0)
                throw new InvalidDataException($"{source}: {name} must be positive, got {value}");
        }
        Positive(EmbedDim, "embed_dim");
        Positive(NEmbed, "n_embed");
        Positive(ZChannels, "z_channels");
        Positive(Ch, "ch");
        Positive(NumResBlocks, "num_res_blocks");
        Positive(Resolution, "resolution");
        Positive(InChannels, "in_channels");
        Positive(OutCh, "out_ch");
        if (ChMult.Count == 0 || ChMult.Count > 8)
            throw new InvalidDataException($"{source}: ch_mult must have 1 to 8 levels, got {ChMult.Count}");
        for (int i = 0; i < ChMult.Count; i++)
        {
            Positive(ChMult[i], $"ch_mult[{i}]");
            if (Ch * ChMult[i] % NormGroups != 0)
                throw new InvalidDataException($"{source}: level {i} has {Ch * ChMult[i]} channels (ch {Ch} x ch_mult "
                                               + $"{ChMult[i]}), not a multiple of the {NormGroups} GroupNorm groups");
        }
    }

    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("embed_dim", EmbedDim);
            json.WriteNumber("n_embed", NEmbed);
            json.WriteNumber("z_channels", ZChannels);
            json.WriteNumber("ch", Ch);
            WriteList(json, "ch_mult", ChMult);
            json.WriteNumber("num_res_blocks", NumResBlocks);
            WriteList(json, "attn_resolutions", AttnResolutions);
            json.WriteNumber("resolution", Resolution);
            json.WriteNumber("in_channels", InChannels);
            json.WriteNumber("out_ch", OutCh);
            json.WriteBoolean("double_z", DoubleZ);
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>Writes vqgan.json through a temporary file and an atomic rename.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    public static VqganConfig Load(string path)
    {
        return Parse(Managed.Files.InputFile.ReadAllText(path, 1 << 20, "VQGAN config"), path);
    }

    public static VqganConfig Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: expected a JSON object");

            JsonElement Field(string name) => root.TryGetProperty(name, out var value)
                ? value
                : throw new InvalidDataException($"{source}: missing field {name}");
            int Int(string name) => Field(name) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out int i)
                ? i
                : throw new InvalidDataException($"{source}: {name} must be an integer, got {Field(name)}");
            int[] Ints(string name) => Field(name) is { ValueKind: JsonValueKind.Array } v
                ? v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int i) ? i
                    : throw new InvalidDataException($"{source}: {name} must hold integers, found {e}")).ToArray()
                : throw new InvalidDataException($"{source}: {name} must be a list of integers, got {Field(name)}");
            bool Bool(string name) => Field(name).ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new InvalidDataException($"{source}: {name} must be true or false, got {Field(name)}"),
            };

            var config = new VqganConfig(Int("embed_dim"), Int("n_embed"), Int("z_channels"), Int("ch"), Ints("ch_mult"),
                Int("num_res_blocks"), Ints("attn_resolutions"), Int("resolution"), Int("in_channels"), Int("out_ch"),
                Bool("double_z"));
            config.Validate(source);
            return config;
        }
    }

    private static void WriteList(Utf8JsonWriter json, string name, IReadOnlyList<int> values)
    {
        json.WriteStartArray(name);
        foreach (int v in values)
            json.WriteNumberValue(v);
        json.WriteEndArray();
    }
}
