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
        var problems = new List<string>();
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
        {
            const int shown = 20;
            var lines = problems.Take(shown).Select(p => "  - " + p);
            string more = problems.Count > shown ? $"\n  ... and {problems.Count - shown} more" : "";
            throw new ModelFormatException(
                $"{modelPath}: the checkpoint does not match its config ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):\n{string.Join("\n", lines)}{more}");
        }
        return found;
    }
}
