using CoAR.Engine.Graph.Imaging;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>
/// The VQGAN config from a taming-transformers style vqgan.yaml: <c>model.params</c> holds embed_dim, n_embed and
/// ddconfig (a file holding only the params mapping is read too). Defaults follow taming's Encoder: double_z true,
/// ch_mult [1, 2, 4, 8]; every other ddconfig value is required, as Python requires it.
/// </summary>
public static class VqganYaml
{
    public static VqganConfig Load(string path)
    {
        return Parse(Managed.Files.InputFile.ReadAllText(path, 1 << 20, "VQGAN yaml"), path);
    }

    public static VqganConfig Parse(string text, string source)
    {
        object? root = YamlSubsetReader.Parse(text, source);
        var (parameters, at) = FindParams(root, source);
        int embedDim = Int(parameters, "embed_dim", at, source);
        int nEmbed = Int(parameters, "n_embed", at, source);
        var ddconfig = Mapping(parameters, "ddconfig", at, source);
        string dd = $"{at}.ddconfig";

        var config = new VqganConfig(
            EmbedDim: embedDim,
            NEmbed: nEmbed,
            ZChannels: Int(ddconfig, "z_channels", dd, source),
            Ch: Int(ddconfig, "ch", dd, source),
            ChMult: ddconfig.ContainsKey("ch_mult") ? Ints(ddconfig, "ch_mult", dd, source) : [1, 2, 4, 8],
            NumResBlocks: Int(ddconfig, "num_res_blocks", dd, source),
            AttnResolutions: Ints(ddconfig, "attn_resolutions", dd, source),
            Resolution: Int(ddconfig, "resolution", dd, source),
            InChannels: Int(ddconfig, "in_channels", dd, source),
            OutCh: Int(ddconfig, "out_ch", dd, source),
            DoubleZ: !ddconfig.ContainsKey("double_z") || Bool(ddconfig, "double_z", dd, source));
        config.Validate(source);
        return config;
    }

    private static (Dictionary<string, object?> Params, string Path) FindParams(object? root, string source)
    {
        if (root is not Dictionary<string, object?> top)
            throw new InvalidDataException($"{source}: expected a mapping at the top level");
        if (top.TryGetValue("model", out var model) && model is Dictionary<string, object?> m
            && m.TryGetValue("params", out var p) && p is Dictionary<string, object?> modelParams)
            return (modelParams, "model.params");
        if (top.TryGetValue("params", out var q) && q is Dictionary<string, object?> bareParams)
            return (bareParams, "params");
        if (top.ContainsKey("ddconfig"))
            return (top, "(top level)");
        throw new InvalidDataException($"{source}: no model.params mapping with embed_dim, n_embed and ddconfig");
    }

    private static object? Value(Dictionary<string, object?> map, string key, string at, string source) =>
        map.TryGetValue(key, out var value)
            ? value
            : throw new InvalidDataException($"{source}: missing {at}.{key}");

    private static Dictionary<string, object?> Mapping(Dictionary<string, object?> map, string key, string at,
        string source) =>
        Value(map, key, at, source) as Dictionary<string, object?>
        ?? throw new InvalidDataException($"{source}: {at}.{key} must be a mapping");

    private static int Int(Dictionary<string, object?> map, string key, string at, string source) =>
        AsInt(Value(map, key, at, source), $"{at}.{key}", source);

    private static int[] Ints(Dictionary<string, object?> map, string key, string at, string source) =>
        Value(map, key, at, source) is List<object?> items
            ? items.Select((item, i) => AsInt(item, $"{at}.{key}[{i}]", source)).ToArray()
            : throw new InvalidDataException($"{source}: {at}.{key} must be a list of integers");

    private static bool Bool(Dictionary<string, object?> map, string key, string at, string source) =>
        Value(map, key, at, source) as bool?
        ?? throw new InvalidDataException($"{source}: {at}.{key} must be true or false");

    private static int AsInt(object? value, string name, string source) =>
        value is long l && l is >= int.MinValue and <= int.MaxValue
            ? (int)l
            : throw new InvalidDataException($"{source}: {name} must be an integer, found {value ?? "null"}");
}
