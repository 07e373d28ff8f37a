using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Imaging;

/// <summary>
/// The Chameleon image tokenizer (taming-transformers VQModel) on one backend, fp32: pixels -> codes (encoder,
/// quant_conv, nearest codebook entry) and codes -> pixels (codebook lookup, post_quant_conv, decoder).
/// Weights from vqgan.safetensors + vqgan.json (see `coar convert-vqgan`), under the spec's names or with the
/// Hugging Face `model.vqmodel.` prefix.
/// </summary>
public sealed class VqganModel : IDisposable
{
    public const string WeightsFileName = "vqgan.safetensors";
    public const string ConfigFileName = "vqgan.json";
    private const string HuggingFacePrefix = "model.vqmodel.";
    private const float NormEps = 1e-6f;

    private readonly IBackend _b;
    private readonly SafeTensorsFile _file;
    private readonly Dictionary<string, Tensor> _w;
    private readonly Workspace _ws;

    private VqganModel(VqganConfig config, IBackend backend, SafeTensorsFile file, Dictionary<string, Tensor> weights)
    {
        Config = config;
        _b = backend;
        _file = file;
        _w = weights;
        _ws = new Workspace(backend);
    }

    public VqganConfig Config { get; }

    public static VqganModel Load(string dir, IBackend backend)
    {
        string weightsPath = Path.Combine(dir, WeightsFileName), configPath = Path.Combine(dir, ConfigFileName);
        if (!File.Exists(weightsPath) || !File.Exists(configPath))
            throw new FileNotFoundException(
                $"{dir}: no VQGAN image tokenizer here (expected {WeightsFileName} and {ConfigFileName}; make them from Chameleon's tokenizer/vqgan.ckpt with `coar convert-vqgan`)",
                weightsPath);
        var config = VqganConfig.Load(configPath);
        if (config.DoubleZ)
            throw new InvalidDataException($"{configPath}: double_z is true; the VQGAN tokenizer has a single latent (double_z false)");
        var file = SafeTensorsFile.Open(weightsPath);
        var weights = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            var problems = new List<string>();
            foreach (var spec in VqganWeightLayout.Expected(config))
            {
                if (!file.TryGetTensor(spec.Name, out var info) && !file.TryGetTensor(HuggingFacePrefix + spec.Name, out info))
                {
                    problems.Add($"tensor '{spec.Name}' is missing (expected F32[{string.Join(", ", spec.Shape)}])");
                    continue;
                }
                if (!info.Shape.SequenceEqual(spec.Shape))
                    problems.Add($"tensor '{info.Name}' has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", spec.Shape)}]");
                else if (!info.DType.IsFloat())
                    problems.Add($"tensor '{info.Name}' has dtype {info.DType}, expected a float type");
                else
                    unsafe
                    {
                        weights[spec.Name] = backend.LoadWeight((nint)file.GetPointer(info), info.DType,
                            info.Shape.Select(d => checked((int)d)).ToArray(), spec.Name);
                    }
            }
            if (problems.Count > 0)
                throw new InvalidDataException($"{weightsPath}: the VQGAN weights do not match {ConfigFileName}:\n  - " + string.Join("\n  - ", problems.Take(20)));
            return new VqganModel(config, backend, file, weights);
        }
        catch
        {
            foreach (var t in weights.Values) t.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>Latent codes (row-major, h outer) of a preprocessed image ([3, H, W] in [-1, 1]).</summary>
    public int[] Encode(ModelInputImage image)
    {
        int f = Config.DownsampleFactor;
        if (image.Width % f != 0 || image.Height % f != 0)
            throw new ArgumentException($"image {image.Width}x{image.Height}: both sides must be multiples of {f} to encode");
        try
        {
            var x = _ws.Get("enc_input", DType.F32, 1, Config.InChannels, image.Height, image.Width);
            _b.Upload<float>(image.Chw, x);
            var h = Encoder(x);
            h = Conv(h, "quant_conv", Conv2dGeometry.Pointwise);
            int lh = h.Dim(2), lw = h.Dim(3);
            var codes = _ws.Get("codes", DType.I32, 1, lh * lw);
            _b.CodebookArgmin(h, _w["quantize.embedding.weight"], codes);
            var result = new int[lh * lw];
            _b.Download<int>(codes, result);
            return result;
        }
        finally
        {
            FreeTemporaries();
        }
    }

    /// <summary>Pixels [3, H, W] (decoder output, not yet clamped) of latent codes laid out latentHeight x latentWidth.</summary>
    public float[] Decode(ReadOnlySpan<int> codes, int latentHeight, int latentWidth)
    {
        if (codes.Length != latentHeight * latentWidth)
            throw new ArgumentException($"{codes.Length} codes do not fill a {latentHeight}x{latentWidth} latent grid");
        foreach (int c in codes)
            if ((uint)c >= (uint)Config.NEmbed)
                throw new ArgumentOutOfRangeException(nameof(codes), $"code {c} is outside the codebook [0, {Config.NEmbed})");
        try
        {
            var ids = _ws.Get("dec_codes", DType.I32, 1, codes.Length);
            _b.Upload<int>(codes, ids);
            var z = _ws.Get("dec_z", DType.F32, 1, Config.EmbedDim, latentHeight, latentWidth);
            _b.CodebookLookup(ids, _w["quantize.embedding.weight"], z);
            var h = Conv(z, "post_quant_conv", Conv2dGeometry.Pointwise);
            h = Decoder(h);
            var result = new float[h.ElementCount];
            _b.Download<float>(h, result);
            return result;
        }
        finally
        {
            FreeTemporaries();
        }
    }

    private Tensor Encoder(Tensor x)
    {
        var c = Config;
        var h = Conv(x, "encoder.conv_in", Conv2dGeometry.Same(3));
        int resolution = c.Resolution;
        for (int level = 0; level < c.ChMult.Count; level++)
        {
            for (int block = 0; block < c.NumResBlocks; block++)
            {
                h = ResnetBlock(h, $"encoder.down.{level}.block.{block}");
                if (c.AttnResolutions.Contains(resolution))
                    h = AttnBlock(h, $"encoder.down.{level}.attn.{block}");
            }
            if (level != c.ChMult.Count - 1)
            {
                h = Conv(h, $"encoder.down.{level}.downsample.conv", Conv2dGeometry.DownsampleRightBottom);
                resolution /= 2;
            }
        }
        h = Middle(h, "encoder.mid");
        h = Norm(h, "encoder.norm_out", swish: true);
        return Conv(h, "encoder.conv_out", Conv2dGeometry.Same(3));
    }

    private Tensor Decoder(Tensor z)
    {
        var c = Config;
        int levels = c.ChMult.Count;
        var h = Conv(z, "decoder.conv_in", Conv2dGeometry.Same(3));
        h = Middle(h, "decoder.mid");
        int resolution = c.Resolution >> (levels - 1);
        for (int level = levels - 1; level >= 0; level--)
        {
            for (int block = 0; block <= c.NumResBlocks; block++)
            {
                h = ResnetBlock(h, $"decoder.up.{level}.block.{block}");
                if (c.AttnResolutions.Contains(resolution))
                    h = AttnBlock(h, $"decoder.up.{level}.attn.{block}");
            }
            if (level != 0)
            {
                var up = Scratch(h.Dim(1), h.Dim(2) * 2, h.Dim(3) * 2);
                _b.Upsample2x(h, up);
                h = Conv(up, $"decoder.up.{level}.upsample.conv", Conv2dGeometry.Same(3));
                resolution *= 2;
            }
        }
        h = Norm(h, "decoder.norm_out", swish: true);
        return Conv(h, "decoder.conv_out", Conv2dGeometry.Same(3));
    }

    private Tensor Middle(Tensor h, string prefix)
    {
        h = ResnetBlock(h, prefix + ".block_1");
        h = AttnBlock(h, prefix + ".attn_1");
        return ResnetBlock(h, prefix + ".block_2");
    }

    /// <summary>h = conv(swish(norm(x))); h = conv(swish(norm(h))); out = shortcut(x) + h.</summary>
    private Tensor ResnetBlock(Tensor x, string prefix)
    {
        var h = Norm(x, prefix + ".norm1", swish: true);
        h = Conv(h, prefix + ".conv1", Conv2dGeometry.Same(3));
        h = Norm(h, prefix + ".norm2", swish: true);
        h = Conv(h, prefix + ".conv2", Conv2dGeometry.Same(3));
        var shortcut = _w.ContainsKey(prefix + ".nin_shortcut.weight") ? Conv(x, prefix + ".nin_shortcut", Conv2dGeometry.Pointwise) : x;
        _b.Add(shortcut, h, h);
        return h;
    }

    /// <summary>x + proj_out(attention(q(n), k(n), v(n))), n = norm(x), one head over all positions.</summary>
    private Tensor AttnBlock(Tensor x, string prefix)
    {
        var n = Norm(x, prefix + ".norm", swish: false);
        var q = Conv(n, prefix + ".q", Conv2dGeometry.Pointwise);
        var k = Conv(n, prefix + ".k", Conv2dGeometry.Pointwise);
        var v = Conv(n, prefix + ".v", Conv2dGeometry.Pointwise);
        var a = Scratch(x.Dim(1), x.Dim(2), x.Dim(3));
        _b.SpatialAttention(q, k, v, a);
        var o = Conv(a, prefix + ".proj_out", Conv2dGeometry.Pointwise);
        _b.Add(x, o, o);
        return o;
    }

    private Tensor Norm(Tensor x, string prefix, bool swish)
    {
        var y = Scratch(x.Dim(1), x.Dim(2), x.Dim(3));
        _b.GroupNorm(x, _w[prefix + ".weight"], _w[prefix + ".bias"], VqganConfig.NormGroups, NormEps, swish, y);
        return y;
    }

    private Tensor Conv(Tensor x, string prefix, Conv2dGeometry geometry)
    {
        var weight = _w[prefix + ".weight"];
        int k = weight.Dim(2);
        var y = Scratch(weight.Dim(0), geometry.OutputSize(x.Dim(2), k, height: true), geometry.OutputSize(x.Dim(3), k, height: false));
        _b.Conv2d(x, weight, _w[prefix + ".bias"], geometry, y);
        return y;
    }

    /// <summary>
    /// A fresh activation. The graph is a straight line with short-lived temporaries; allocating each one (and
    /// freeing it when the call ends) keeps the code plain, at a cost far below the convolutions themselves.
    /// </summary>
    private Tensor Scratch(int channels, int height, int width)
    {
        var t = _b.Allocate(DType.F32, [1, channels, height, width]);
        _temporaries.Add(t);
        return t;
    }

    private readonly List<Tensor> _temporaries = new();

    private void FreeTemporaries()
    {
        foreach (var t in _temporaries) t.Dispose();
        _temporaries.Clear();
    }

    public void Dispose()
    {
        FreeTemporaries();
        foreach (var t in _w.Values) t.Dispose();
        _ws.Dispose();
        _file.Dispose();
    }
}
