using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>The tensors of a Chameleon checkpoint (Lumina-mGPT layout): names, shapes, dtype, and their check.</summary>
public static class ChameleonTensors
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    public static string Layer(int i, string suffix) => $"model.layers.{i}.{suffix}";

    public static DType ExpectedDType(ChameleonConfig config) => config.TorchDType switch
    {
        "bfloat16" => DType.BF16,
        "float16" => DType.F16,
        _ => DType.F32,
    };

    /// <summary>Every tensor the config implies, in checkpoint order.</summary>
    public static IReadOnlyList<TensorSpec> Expected(ChameleonConfig c)
    {
        int d = c.HiddenSize, f = c.IntermediateSize, kv = c.KvDim, dh = c.HeadDim;
        var specs = new List<TensorSpec> { new(Embedding, [c.VocabSize, d], "embedding") };
        for (int i = 0; i < c.NumLayers; i++)
        {
            specs.Add(new(Layer(i, "self_attn.q_proj.weight"), [d, d], "attention"));
            specs.Add(new(Layer(i, "self_attn.k_proj.weight"), [kv, d], "attention"));
            specs.Add(new(Layer(i, "self_attn.v_proj.weight"), [kv, d], "attention"));
            specs.Add(new(Layer(i, "self_attn.o_proj.weight"), [d, d], "attention"));
            if (c.QkLayerNorm)
            {
                specs.Add(new(Layer(i, "self_attn.q_norm.weight"), [TensorSpec.AnyDivisor, dh], "norms", c.NumHeads));
                specs.Add(new(Layer(i, "self_attn.q_norm.bias"), [TensorSpec.AnyDivisor, dh], "norms", c.NumHeads));
                specs.Add(new(Layer(i, "self_attn.k_norm.weight"), [TensorSpec.AnyDivisor, dh], "norms", c.NumKvHeads));
                specs.Add(new(Layer(i, "self_attn.k_norm.bias"), [TensorSpec.AnyDivisor, dh], "norms", c.NumKvHeads));
            }
            specs.Add(new(Layer(i, "mlp.gate_proj.weight"), [f, d], "mlp"));
            specs.Add(new(Layer(i, "mlp.up_proj.weight"), [f, d], "mlp"));
            specs.Add(new(Layer(i, "mlp.down_proj.weight"), [d, f], "mlp"));
            specs.Add(new(Layer(i, "input_layernorm.weight"), [d], "norms"));
            specs.Add(new(Layer(i, "post_attention_layernorm.weight"), [d], "norms"));
        }
        specs.Add(new(FinalNorm, [d], "norms"));
        if (!c.TieWordEmbeddings)
            specs.Add(new(LmHead, [c.VocabSize, d], "lm_head"));
        return specs;
    }

    /// <summary>
    /// Finds every expected tensor in the checkpoint and checks its shape and dtype. All problems are reported
    /// together, each naming the tensor, its file, and expected vs found.
    /// </summary>
    public static IReadOnlyDictionary<string, TensorInfo> Resolve(SafeTensorsCheckpoint checkpoint, ChameleonConfig config, string modelPath)
    {
        var dtype = ExpectedDType(config);
        var found = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        var problems = CheckLayerCount(checkpoint, config);
        if (problems.Count > 0)
            throw Mismatch(modelPath, problems);
        foreach (var spec in Expected(config))
        {
            if (!checkpoint.TryGetTensor(spec.Name, out var info))
            {
                problems.Add($"tensor '{spec.Name}' is missing (expected {dtype}{spec.DescribeShape()})");
                continue;
            }
            string where = Path.GetFileName(info.FilePath);
            if (!spec.Matches(info.Shape))
                problems.Add($"tensor '{spec.Name}' in {where} has shape [{string.Join(", ", info.Shape)}], expected {spec.DescribeShape()}");
            if (info.DType != dtype)
                problems.Add($"tensor '{spec.Name}' in {where} has dtype {info.DType}, expected {dtype} (config.json torch_dtype={config.TorchDType})");
            found[spec.Name] = info;
        }
        if (problems.Count > 0)
            throw Mismatch(modelPath, problems);
        return found;
    }

    /// <summary>
    /// The config's layer count against the layers the checkpoint holds, before anything is built per layer: a config
    /// claiming millions of layers is refused at once, and layers the config leaves out are an error too (a wrong
    /// num_hidden_layers would otherwise run a truncated model without a word).
    /// </summary>
    private static List<string> CheckLayerCount(SafeTensorsCheckpoint checkpoint, ChameleonConfig config)
    {
        var layers = new SortedSet<int>();
        string? beyond = null;
        foreach (string name in checkpoint.Names)
        {
            if (!name.StartsWith("model.layers.", StringComparison.Ordinal))
                continue;
            int end = name.IndexOf('.', "model.layers.".Length);
            if (end < 0 || !int.TryParse(name.AsSpan("model.layers.".Length, end - "model.layers.".Length), out int layer) || layer < 0)
                continue;
            layers.Add(layer);
            if (layer >= config.NumLayers && (beyond is null || string.CompareOrdinal(name, beyond) < 0))
                beyond = name;
        }
        var problems = new List<string>();
        int held = layers.Count == 0 ? 0 : layers.Max + 1;
        if (config.NumLayers > held)
            problems.Add($"config.json has num_hidden_layers={config.NumLayers}, but the checkpoint holds tensors for {layers.Count} layer(s)"
                         + (layers.Count > 0 ? $" (model.layers.{layers.Min} to model.layers.{layers.Max})" : ""));
        else if (beyond is not null)
            problems.Add($"the checkpoint holds layers {config.NumLayers} to {layers.Max} (e.g. '{beyond}') that config.json's "
                         + $"num_hidden_layers={config.NumLayers} does not use: is the config the checkpoint's own?");
        return problems;
    }

    private static ModelFormatException Mismatch(string modelPath, List<string> problems)
    {
        const int shown = 20;
        var lines = problems.Take(shown).Select(p => "  - " + p);
        string more = problems.Count > shown ? $"\n  ... and {problems.Count - shown} more" : "";
        return new ModelFormatException(
            $"{modelPath}: the checkpoint does not match its config ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):\n{string.Join("\n", lines)}{more}");
    }
}
