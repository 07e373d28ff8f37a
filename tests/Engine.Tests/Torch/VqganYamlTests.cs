using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Tools.Vqgan;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Torch;

public class VqganYamlTests
{
    /// <summary>A taming-style vqgan.yaml in PyYAML's dump style (block lists at the parent key's indentation).</summary>
    internal const string TinyYaml = """
        model:
          base_learning_rate: 4.5e-06
          target: taming.models.vqgan.VQModel
          params:
            embed_dim: 8
            n_embed: 8192
            ddconfig:
              double_z: false
              z_channels: 8
              resolution: 256
              in_channels: 3
              out_ch: 3
              ch: 32
              ch_mult:
              - 1
              - 1
              - 2
              - 2
              - 4
              num_res_blocks: 2
              attn_resolutions: []
              dropout: 0.0
            lossconfig:
              target: taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator
              params:
                disc_conditional: false
                disc_start: 10000   # the discriminator starts late
                disc_weight: 0.8
        data:
          target: main.DataModuleFromConfig
          params:
            batch_size: 8
            train:
              - target: "data.Images"
                params: {}
              - simple
        """;

    [Test]
    public void AChameleonStyleYamlGivesTheConfig()
    {
        VqganConfig config = VqganYaml.Parse(TinyYaml, "vqgan.yaml");
        Assert.That(config.ToJson(), Is.EqualTo(TinyVqgan.Config.ToJson()));
    }

    [Test]
    public void InlineListsIndentedListsAndDefaultsWork()
    {
        const string yaml = """
            params:
              embed_dim: 256
              n_embed: 8192
              ddconfig:
                z_channels: 256
                resolution: 512
                in_channels: 3
                out_ch: 3
                ch: 128
                ch_mult: [ 1,1, 2, 2,4 ]
                num_res_blocks: 2
                attn_resolutions:
                  - 32
                  - 16
            """;
        VqganConfig config = VqganYaml.Parse(yaml, "bare.yaml");
        Assert.That(config.ChMult, Is.EqualTo(new[] { 1, 1, 2, 2, 4 }));
        Assert.That(config.AttnResolutions, Is.EqualTo(new[] { 32, 16 }));
        Assert.That(config.DoubleZ, Is.True, "taming's Encoder defaults double_z to True");
    }

    [Test]
    public void TheReaderGivesTypedValues()
    {
        var root = (Dictionary<string, object?>)YamlSubsetReader.Parse("""
            a: 3
            b: -4.5e-06
            c: "quoted # not a comment"
            d: 'it''s'
            e: ~
            f: True
            g: [[1, 2], [], "x"]
            h:
            i: plain text: with colon
            """, "t.yaml")!;
        Assert.That(root["a"], Is.EqualTo(3L));
        Assert.That(root["b"], Is.EqualTo(-4.5e-06));
        Assert.That(root["c"], Is.EqualTo("quoted # not a comment"));
        Assert.That(root["d"], Is.EqualTo("it's"));
        Assert.That(root["e"], Is.Null);
        Assert.That(root["f"], Is.EqualTo(true));
        Assert.That(root["g"], Is.EqualTo(new List<object?> { new List<object?> { 1L, 2L }, new List<object?>(), "x" }));
        Assert.That(root["h"], Is.Null);
        Assert.That(root["i"], Is.EqualTo("plain text: with colon"));
    }

    [TestCase("model:\n  params:\n    embed_dim: 8\n", "missing model.params.n_embed")]
    [TestCase("params:\n  embed_dim: 8\n  n_embed: 16\n  ddconfig:\n    z_channels: [1]\n", "params.ddconfig.z_channels must be an integer")]
    [TestCase("params:\n  embed_dim: x\n", "params.embed_dim must be an integer, found x")]
    [TestCase("something: 1\n", "no model.params mapping")]
    public void MissingAndMistypedValuesAreNamed(string yaml, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => VqganYaml.Parse(yaml, "v.yaml"));
        Assert.That(e!.Message, Does.StartWith("v.yaml: ").And.Contain(message));
    }

    [TestCase("a: &anchor 1\n", "line 1: anchors, aliases and tags")]
    [TestCase("a: 1\nb: |\n  text\n", "line 2: block scalars")]
    [TestCase("a: 1\n  b: 2\n", "line 2: unexpected indentation")]
    [TestCase("a: [1, 2\n", "line 1: unterminated [ list")]
    [TestCase("a: {b: 1}\n", "line 1: flow mappings")]
    [TestCase("a: 1\na: 2\n", "line 2: duplicate key 'a'")]
    [TestCase("a: 1\n\tb: 2\n", "line 2: tabs cannot indent")]
    [TestCase("just text\n", "line 1: expected 'key: value'")]
    public void UnsupportedYamlIsAnErrorWithTheLine(string yaml, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => YamlSubsetReader.Parse(yaml, "bad.yaml"));
        Assert.That(e!.Message, Does.StartWith("bad.yaml ").And.Contain(message));
    }
}
