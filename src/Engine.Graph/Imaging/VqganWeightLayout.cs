namespace CoAR.Engine.Graph.Imaging;

/// <summary>
/// Every tensor a taming-transformers VQModel with a given config has, in module order, with its shape: the one
/// naming function the converter's key check, the tiny VQGAN writer and the model loader agree on.
/// Convs are [out, in, k, k] with bias [out]; GroupNorms have weight and bias [channels].
/// </summary>
public static class VqganWeightLayout
{
    public static IReadOnlyList<VqganTensorSpec> Expected(VqganConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var specs = new List<VqganTensorSpec>();
        int levels = config.ChMult.Count;

        // Encoder: conv_in, per level num_res_blocks blocks (+ attention at attn_resolutions) and a downsample.
        Conv(specs, "encoder.conv_in", config.InChannels, config.Ch, 3);
        int blockIn = config.Ch;
        int resolution = config.Resolution;
        for (int level = 0; level < levels; level++)
        {
            int blockOut = config.Ch * config.ChMult[level];
            for (int block = 0; block < config.NumResBlocks; block++)
            {
                ResnetBlock(specs, $"encoder.down.{level}.block.{block}", blockIn, blockOut);
                blockIn = blockOut;
                if (config.AttnResolutions.Contains(resolution))
                    AttnBlock(specs, $"encoder.down.{level}.attn.{block}", blockIn);
            }
            if (level != levels - 1)
            {
                Conv(specs, $"encoder.down.{level}.downsample.conv", blockIn, blockIn, 3);
                resolution /= 2;
            }
        }
        Middle(specs, "encoder.mid", blockIn);
        Norm(specs, "encoder.norm_out", blockIn);
        Conv(specs, "encoder.conv_out", blockIn, config.DoubleZ ? 2 * config.ZChannels : config.ZChannels, 3);

        Conv(specs, "quant_conv", config.ZChannels, config.EmbedDim, 1);
        specs.Add(new VqganTensorSpec("quantize.embedding.weight", [config.NEmbed, config.EmbedDim]));
        Conv(specs, "post_quant_conv", config.EmbedDim, config.ZChannels, 1);

        // Decoder: conv_in, middle, levels from the deepest up with num_res_blocks + 1 blocks and an upsample.
        blockIn = config.Ch * config.ChMult[levels - 1];
        resolution = config.Resolution >> (levels - 1);
        Conv(specs, "decoder.conv_in", config.ZChannels, blockIn, 3);
        Middle(specs, "decoder.mid", blockIn);
        for (int level = levels - 1; level >= 0; level--)
        {
            int blockOut = config.Ch * config.ChMult[level];
            for (int block = 0; block <= config.NumResBlocks; block++)
            {
                ResnetBlock(specs, $"decoder.up.{level}.block.{block}", blockIn, blockOut);
                blockIn = blockOut;
                if (config.AttnResolutions.Contains(resolution))
                    AttnBlock(specs, $"decoder.up.{level}.attn.{block}", blockIn);
            }
            if (level != 0)
            {
                Conv(specs, $"decoder.up.{level}.upsample.conv", blockIn, blockIn, 3);
                resolution *= 2;
            }
        }
        Norm(specs, "decoder.norm_out", blockIn);
        Conv(specs, "decoder.conv_out", blockIn, config.OutCh, 3);
        return specs;
    }

    private static void Middle(List<VqganTensorSpec> specs, string prefix, int channels)
    {
        ResnetBlock(specs, $"{prefix}.block_1", channels, channels);
        AttnBlock(specs, $"{prefix}.attn_1", channels);
        ResnetBlock(specs, $"{prefix}.block_2", channels, channels);
    }

    private static void ResnetBlock(List<VqganTensorSpec> specs, string prefix, int input, int output)
    {
        Norm(specs, $"{prefix}.norm1", input);
        Conv(specs, $"{prefix}.conv1", input, output, 3);
        Norm(specs, $"{prefix}.norm2", output);
        Conv(specs, $"{prefix}.conv2", output, output, 3);
        if (input != output)
            Conv(specs, $"{prefix}.nin_shortcut", input, output, 1);
    }

    private static void AttnBlock(List<VqganTensorSpec> specs, string prefix, int channels)
    {
        Norm(specs, $"{prefix}.norm", channels);
        foreach (string projection in (string[])["q", "k", "v", "proj_out"])
            Conv(specs, $"{prefix}.{projection}", channels, channels, 1);
    }

    private static void Conv(List<VqganTensorSpec> specs, string prefix, int input, int output, int kernel)
    {
        specs.Add(new VqganTensorSpec($"{prefix}.weight", [output, input, kernel, kernel]));
        specs.Add(new VqganTensorSpec($"{prefix}.bias", [output]));
    }

    private static void Norm(List<VqganTensorSpec> specs, string prefix, int channels)
    {
        specs.Add(new VqganTensorSpec($"{prefix}.weight", [channels]));
        specs.Add(new VqganTensorSpec($"{prefix}.bias", [channels]));
    }
}
