using CoAR.Engine.Graph.Imaging;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

public class VqganWeightLayoutTests
{
    // Chameleon's tokenizer as spec section 7 gives it.
    private static readonly VqganConfig Chameleon = new(256, 8192, 256, 128, [1, 1, 2, 2, 4], 2, [], 512, 3, 3, false);

    private static Dictionary<string, long[]> Layout(VqganConfig config) =>
        VqganWeightLayout.Expected(config).ToDictionary(s => s.Name, s => s.Shape);

    [Test]
    public void ChameleonsTensorsHaveTheSpecShapes()
    {
        var layout = Layout(Chameleon);
        Assert.That(layout["encoder.conv_in.weight"], Is.EqualTo(new long[] { 128, 3, 3, 3 }));
        Assert.That(layout["encoder.down.2.block.0.conv1.weight"], Is.EqualTo(new long[] { 256, 128, 3, 3 }));
        Assert.That(layout["encoder.down.2.block.0.nin_shortcut.weight"], Is.EqualTo(new long[] { 256, 128, 1, 1 }));
        Assert.That(layout["encoder.down.3.downsample.conv.weight"], Is.EqualTo(new long[] { 256, 256, 3, 3 }));
        Assert.That(layout["encoder.mid.attn_1.proj_out.weight"], Is.EqualTo(new long[] { 512, 512, 1, 1 }));
        Assert.That(layout["encoder.norm_out.weight"], Is.EqualTo(new long[] { 512 }));
        Assert.That(layout["encoder.conv_out.weight"], Is.EqualTo(new long[] { 256, 512, 3, 3 }));
        Assert.That(layout["quant_conv.weight"], Is.EqualTo(new long[] { 256, 256, 1, 1 }));
        Assert.That(layout["quantize.embedding.weight"], Is.EqualTo(new long[] { 8192, 256 }));
        Assert.That(layout["post_quant_conv.bias"], Is.EqualTo(new long[] { 256 }));
        Assert.That(layout["decoder.conv_in.weight"], Is.EqualTo(new long[] { 512, 256, 3, 3 }));
        Assert.That(layout["decoder.up.4.block.2.conv2.weight"], Is.EqualTo(new long[] { 512, 512, 3, 3 }));
        Assert.That(layout["decoder.up.3.block.0.nin_shortcut.weight"], Is.EqualTo(new long[] { 256, 512, 1, 1 }));
        Assert.That(layout["decoder.up.1.block.0.conv1.weight"], Is.EqualTo(new long[] { 128, 256, 3, 3 }));
        Assert.That(layout["decoder.up.1.upsample.conv.weight"], Is.EqualTo(new long[] { 128, 128, 3, 3 }));
        Assert.That(layout["decoder.conv_out.weight"], Is.EqualTo(new long[] { 3, 128, 3, 3 }));

        Assert.That(layout.Keys, Has.None.StartsWith("encoder.down.4.downsample"));
        Assert.That(layout.Keys, Has.None.StartsWith("decoder.up.0.upsample"));
        Assert.That(layout.Keys, Has.None.StartsWith("encoder.down.1.block.0.nin_shortcut"));
        Assert.That(layout.Keys, Has.None.Contains(".attn.")); // attn_resolutions is empty
        Assert.That(layout.Keys.Count(k => k.StartsWith("encoder.down.0.block.", StringComparison.Ordinal)), Is.EqualTo(2 * 8));
        Assert.That(layout.Keys.Count(k => k.StartsWith("decoder.up.0.block.", StringComparison.Ordinal)), Is.EqualTo(3 * 8));
        Assert.That(VqganWeightLayout.Expected(Chameleon).Select(s => s.Name), Is.Unique);
    }

    [Test]
    public void AttentionResolutionsAddBlocksAtThoseLevels()
    {
        // resolution 64: encoder levels run at 64, 32, 16, 8, 4; attention at 16 is level 2 (and decoder level 2).
        var layout = Layout(Chameleon with { Resolution = 64, AttnResolutions = [16] });
        Assert.That(layout["encoder.down.2.attn.1.q.weight"], Is.EqualTo(new long[] { 256, 256, 1, 1 }));
        Assert.That(layout["decoder.up.2.attn.2.norm.bias"], Is.EqualTo(new long[] { 256 }));
        Assert.That(layout.Keys.Where(k => k.Contains(".attn.")).Select(k => k.Split(".attn.")[0]).Distinct(),
            Is.EquivalentTo(new[] { "encoder.down.2", "decoder.up.2" }));
    }

    [Test]
    public void DoubleZDoublesTheEncoderOutput()
    {
        Assert.That(Layout(Chameleon with { DoubleZ = true })["encoder.conv_out.weight"], Is.EqualTo(new long[] { 512, 512, 3, 3 }));
    }

    [Test]
    public void TheConfigRoundTripsThroughJson()
    {
        VqganConfig config = Chameleon with { AttnResolutions = [16, 32] };
        VqganConfig back = VqganConfig.Parse(config.ToJson(), "vqgan.json");
        Assert.That(back with { ChMult = config.ChMult, AttnResolutions = config.AttnResolutions }, Is.EqualTo(config));
        Assert.That(back.ChMult, Is.EqualTo(config.ChMult));
        Assert.That(back.AttnResolutions, Is.EqualTo(config.AttnResolutions));
        Assert.That(back.DownsampleFactor, Is.EqualTo(16));
    }

    [Test]
    public void BadJsonConfigsNameTheField()
    {
        string json = Chameleon.ToJson();
        Assert.That(Assert.Throws<InvalidDataException>(() => VqganConfig.Parse(json.Replace("\"n_embed\"", "\"n_embedding\""), "v.json"))!.Message,
            Is.EqualTo("v.json: missing field n_embed"));
        Assert.That(Assert.Throws<InvalidDataException>(() => VqganConfig.Parse(json.Replace("\"ch\": 128", "\"ch\": 100"), "v.json"))!.Message,
            Does.Contain("level 0 has 100 channels"));
        Assert.That(Assert.Throws<InvalidDataException>(() => VqganConfig.Parse(json.Replace("\"double_z\": false", "\"double_z\": 0"), "v.json"))!.Message,
            Does.Contain("double_z must be true or false"));
    }
}
