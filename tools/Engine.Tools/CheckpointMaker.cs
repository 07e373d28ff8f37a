using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Tools;

/// <summary>How the weights of a made checkpoint are filled.</summary>
public enum WeightFill
{
    /// <summary>Seeded random values with sensible scales (deterministic: same seed, same bytes).</summary>
    Random,

    /// <summary>All zeros, written as sparse file regions: a 7B-shape checkpoint in seconds, for memory and load tests.</summary>
    Zeros,
}

/// <summary>
/// Writes a checkpoint in exactly the Lumina-mGPT layout: config.json (same fields, vocabulary_map with the real special
/// ids and IMGIMG names), generation_config.json, special_tokens_map.json, tokenizer_config.json, bf16 weights in
/// model-0000i-of-0000N.safetensors shards and model.safetensors.index.json.
/// </summary>
public static class CheckpointMaker
{
    /// <summary>
    /// Writes the checkpoint, its config files and tokenizer.json; for the tiny shape also a tiny VQGAN
    /// (vqgan.safetensors + vqgan.json), so the directory is a complete text-to-image model.
    /// </summary>
    public static void Write(string directory, ModelShape shape, WeightFill fill, int seed, int shards = 2)
    {
        Directory.CreateDirectory(directory);
        ShardedCheckpointWriter.Write(directory, Tensors(shape, fill, seed), shards, new Dictionary<string, string> { ["format"] = "pt" });
        WriteConfigFiles(directory, shape);
        TinyTokenizer.Write(Path.Combine(directory, "tokenizer.json"));
        if (shape.Hidden <= ModelShape.Tiny.Hidden)
            Vqgan.TinyVqgan.Write(directory, seed);
    }

    /// <summary>Every weight of the shape, declared for writing (bytes are produced when a writer streams them).</summary>
    public static IReadOnlyList<PendingTensor> Tensors(ModelShape shape, WeightFill fill, int seed) =>
        TensorList(shape).Select(t => Pending(t.Name, t.Shape, t.Kind, fill, seed)).ToList();

    /// <summary>config.json, generation_config.json, special_tokens_map.json, tokenizer_config.json.</summary>
    public static void WriteConfigFiles(string directory, ModelShape shape)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), ConfigJson(shape).ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(directory, "generation_config.json"), GenerationConfigJson().ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(directory, "special_tokens_map.json"), SpecialTokensJson().ToJsonString(Indented));
        AtomicFile.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), TokenizerConfigJson().ToJsonString(Indented));
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private enum Init { Embedding, Projection, OutputHead, NormWeight, NormBias }

    private static IEnumerable<(string Name, long[] Shape, Init Kind)> TensorList(ModelShape s)
    {
        long d = s.Hidden, f = s.Intermediate, kv = (long)s.KvHeads * s.HeadDim, dh = s.HeadDim, g = s.QkNormGroups;
        yield return ("model.embed_tokens.weight", [s.Vocab, d], Init.Embedding);
        for (int i = 0; i < s.Layers; i++)
        {
            string p = $"model.layers.{i}.";
            yield return (p + "self_attn.q_proj.weight", [d, d], Init.Projection);
            yield return (p + "self_attn.k_proj.weight", [kv, d], Init.Projection);
            yield return (p + "self_attn.v_proj.weight", [kv, d], Init.Projection);
            yield return (p + "self_attn.o_proj.weight", [d, d], Init.Projection);
            yield return (p + "self_attn.q_norm.weight", [g, dh], Init.NormWeight);
            yield return (p + "self_attn.q_norm.bias", [g, dh], Init.NormBias);
            yield return (p + "self_attn.k_norm.weight", [g, dh], Init.NormWeight);
            yield return (p + "self_attn.k_norm.bias", [g, dh], Init.NormBias);
            yield return (p + "mlp.gate_proj.weight", [f, d], Init.Projection);
            yield return (p + "mlp.up_proj.weight", [f, d], Init.Projection);
            yield return (p + "mlp.down_proj.weight", [d, f], Init.Projection);
            yield return (p + "input_layernorm.weight", [d], Init.NormWeight);
            yield return (p + "post_attention_layernorm.weight", [d], Init.NormWeight);
        }
        yield return ("model.norm.weight", [d], Init.NormWeight);
        yield return ("lm_head.weight", [s.Vocab, d], Init.OutputHead);
    }

    private static PendingTensor Pending(string name, long[] shape, Init kind, WeightFill fill, int seed)
    {
        if (fill == WeightFill.Zeros)
            return PendingTensor.Streamed(name, DType.BF16, shape, null);
        long count = shape.Aggregate(1L, (a, b) => a * b);
        // Uniform values with the variance a trained model's weights roughly have: activations keep their scale through
        // every layer, and the output head gives logits of a few units so sampling is neither flat nor one-hot.
        (float center, float halfWidth) = kind switch
        {
            Init.Embedding => (0f, 1.7f),
            Init.Projection => (0f, MathF.Sqrt(3f / shape[1])),
            Init.OutputHead => (0f, 2f * MathF.Sqrt(3f / shape[1])),
            Init.NormWeight => (1f, 0.2f),
            _ => (0f, 0.2f),
        };
        ulong streamSeed = SplitMix64.SeedFor(seed, name);
        return PendingTensor.Streamed(name, DType.BF16, shape, stream => WriteUniform(stream, count, streamSeed, center, halfWidth));
    }

    private static void WriteUniform(Stream stream, long count, ulong seed, float center, float halfWidth)
    {
        var rng = new SplitMix64(seed);
        var chunk = new ushort[1 << 16];
        for (long done = 0; done < count;)
        {
            int n = (int)Math.Min(chunk.Length, count - done);
            for (int i = 0; i < n; i += 4)
            {
                ulong bits = rng.Next();
                for (int j = 0; j < 4 && i + j < n; j++, bits >>= 16)
                    chunk[i + j] = BFloat16.FromSingle(center + halfWidth * SplitMix64.Symmetric(bits));
            }
            stream.Write(MemoryMarshal.AsBytes(chunk.AsSpan(0, n)));
            done += n;
        }
    }

    private static JsonObject ConfigJson(ModelShape s)
    {
        var vocab = new JsonObject();
        var names = TinyVocabulary.Names;
        for (int id = 0; id < Math.Min(s.Vocab, names.Count); id++)
            vocab[names[id]] = id;
        return new JsonObject
        {
            ["_name_or_path"] = "coar-engine/tiny-lumina-mgpt",
            ["architectures"] = new JsonArray("ChameleonForConditionalGeneration"),
            ["attention_bias"] = false,
            ["attention_dropout"] = 0.0,
            // config.json of Lumina-mGPT says bos_token_id 1, which is <pad>; the real BOS is <s> = 0. Kept as published.
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["hidden_act"] = "silu",
            ["hidden_size"] = s.Hidden,
            ["initializer_range"] = 0.02,
            ["intermediate_size"] = s.Intermediate,
            ["max_position_embeddings"] = s.MaxPositions,
            ["mlp_bias"] = false,
            ["model_parallel_size"] = s.QkNormGroups,
            ["model_type"] = "chameleon",
            ["num_attention_heads"] = s.Heads,
            ["num_hidden_layers"] = s.Layers,
            ["num_key_value_heads"] = s.KvHeads,
            ["pad_token_id"] = 1,
            ["qk_layernorm"] = true,
            ["rms_norm_eps"] = 1e-05,
            ["rope_scaling"] = null,
            ["rope_theta"] = 10000.0,
            ["swin_norm"] = s.SwinNorm,
            ["tie_word_embeddings"] = false,
            ["torch_dtype"] = "bfloat16",
            ["transformers_version"] = "4.44.0",
            ["use_cache"] = true,
            ["vocab_size"] = s.Vocab,
            ["vocabulary_map"] = vocab,
            ["vq_config"] = new JsonObject
            {
                ["attn_resolutions"] = new JsonArray(), ["attn_type"] = "vanilla", ["base_channels"] = 128,
                ["channel_multiplier"] = new JsonArray(1, 1, 2, 2, 4), ["double_latent"] = false, ["dropout"] = 0.0,
                ["embed_dim"] = 256, ["in_channels"] = 3, ["initializer_range"] = 0.02, ["latent_channels"] = 256,
                ["model_type"] = "chameleon_vqgan", ["num_embeddings"] = 8192, ["num_res_blocks"] = 2, ["out_channels"] = 3,
                ["resolution"] = 512,
            },
        };
    }

    private static JsonObject GenerationConfigJson() => new()
    {
        ["bos_token_id"] = 0, ["eos_token_id"] = 2, ["pad_token_id"] = 1, ["transformers_version"] = "4.44.0",
    };

    private static JsonObject SpecialTokensJson() => new()
    {
        ["bos_token"] = "<s>", ["eos_token"] = "</s>", ["pad_token"] = "<pad>", ["sep_token"] = "<reserved08706>", ["unk_token"] = "<unk>",
    };

    private static JsonObject TokenizerConfigJson() => new()
    {
        ["add_bos_token"] = true, ["add_eos_token"] = false, ["bos_token"] = "<s>", ["eos_token"] = "</s>",
        ["pad_token"] = "<pad>", ["unk_token"] = "<unk>", ["model_max_length"] = 4096, ["tokenizer_class"] = "PreTrainedTokenizerFast",
    };
}
