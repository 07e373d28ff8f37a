using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Tests.Cpu;

namespace CoAR.Engine.Tests.Imaging;

/// <summary>The VQGAN encoder and decoder of spec section 7 in float64, straight from the spec: the model's reference.</summary>
internal sealed class NaiveVqgan
{
    private readonly VqganConfig _c;
    private readonly Dictionary<string, (double[] Data, long[] Shape)> _w = new();

    public NaiveVqgan(string dir)
    {
        _c = VqganConfig.Load(Path.Combine(dir, "vqgan.json"));
        using var file = SafeTensorsFile.Open(Path.Combine(dir, "vqgan.safetensors"));
        foreach (var t in file.Tensors)
        {
            var f = new float[t.ElementCount];
            file.CopyTo<float>(t, f);
            _w[t.Name] = (f.Select(v => (double)v).ToArray(), t.Shape);
        }
    }

    /// <summary>An activation [C, H, W] of one image.</summary>
    private sealed record Act(double[] X, int C, int H, int W);

    public int[] Encode(float[] chw, int h, int w)
    {
        var a = Conv(new Act(chw.Select(v => (double)v).ToArray(), 3, h, w), "encoder.conv_in", 1, 1, 1);
        for (int level = 0; level < _c.ChMult.Count; level++)
        {
            for (int b = 0; b < _c.NumResBlocks; b++) a = Resnet(a, $"encoder.down.{level}.block.{b}");
            if (level != _c.ChMult.Count - 1) a = Conv(a, $"encoder.down.{level}.downsample.conv", 2, 0, 1); // pad right/bottom only
        }
        a = Middle(a, "encoder.mid");
        a = Conv(Norm(a, "encoder.norm_out", true), "encoder.conv_out", 1, 1, 1);
        a = Conv(a, "quant_conv", 1, 0, 0);
        var cb = _w["quantize.embedding.weight"];
        return NaiveVqganOps.CodebookArgmin(a.X, cb.Data, 1, a.C, a.H * a.W, (int)cb.Shape[0]);
    }

    public double[] Decode(int[] codes, int lh, int lw)
    {
        var cb = _w["quantize.embedding.weight"];
        int e = (int)cb.Shape[1];
        var z = new double[e * lh * lw];
        for (int p = 0; p < codes.Length; p++)
            for (int ch = 0; ch < e; ch++) z[ch * lh * lw + p] = cb.Data[codes[p] * e + ch];
        var a = Conv(new Act(z, e, lh, lw), "post_quant_conv", 1, 0, 0);
        a = Conv(a, "decoder.conv_in", 1, 1, 1);
        a = Middle(a, "decoder.mid");
        for (int level = _c.ChMult.Count - 1; level >= 0; level--)
        {
            for (int b = 0; b <= _c.NumResBlocks; b++) a = Resnet(a, $"decoder.up.{level}.block.{b}");
            if (level != 0)
                a = Conv(new Act(NaiveVqganOps.Upsample2x(a.X, 1, a.C, a.H, a.W), a.C, a.H * 2, a.W * 2), $"decoder.up.{level}.upsample.conv", 1, 1, 1);
        }
        return Conv(Norm(a, "decoder.norm_out", true), "decoder.conv_out", 1, 1, 1).X;
    }

    private Act Middle(Act a, string p) => Resnet(Attn(Resnet(a, p + ".block_1"), p + ".attn_1"), p + ".block_2");

    private Act Resnet(Act x, string p)
    {
        var h = Conv(Norm(x, p + ".norm1", true), p + ".conv1", 1, 1, 1);
        h = Conv(Norm(h, p + ".norm2", true), p + ".conv2", 1, 1, 1);
        var s = _w.ContainsKey(p + ".nin_shortcut.weight") ? Conv(x, p + ".nin_shortcut", 1, 0, 0) : x;
        return new Act(h.X.Select((v, i) => v + s.X[i]).ToArray(), h.C, h.H, h.W);
    }

    private Act Attn(Act x, string p)
    {
        var n = Norm(x, p + ".norm", false);
        var q = Conv(n, p + ".q", 1, 0, 0);
        var k = Conv(n, p + ".k", 1, 0, 0);
        var v = Conv(n, p + ".v", 1, 0, 0);
        var a = new Act(NaiveVqganOps.SpatialAttention(q.X, k.X, v.X, 1, x.C, x.H * x.W), x.C, x.H, x.W);
        var o = Conv(a, p + ".proj_out", 1, 0, 0);
        return new Act(o.X.Select((val, i) => val + x.X[i]).ToArray(), x.C, x.H, x.W);
    }

    private Act Norm(Act x, string p, bool swish) =>
        new(NaiveVqganOps.GroupNorm(x.X, _w[p + ".weight"].Data, _w[p + ".bias"].Data, 1, x.C, x.H * x.W, 32, 1e-6, swish), x.C, x.H, x.W);

    /// <param name="pad">Padding on every side; 0 with stride 2 means the right/bottom-only padding of the downsample.</param>
    private Act Conv(Act x, string p, int stride, int pad, int padRightBottom)
    {
        var (w, shape) = _w[p + ".weight"];
        int cout = (int)shape[0], k = (int)shape[2];
        var (y, ho, wo) = NaiveVqganOps.Conv2d(x.X, w, _w[p + ".bias"].Data, 1, x.C, x.H, x.W, cout, k, k, stride,
            pad, pad, padRightBottom, padRightBottom);
        return new Act(y, cout, ho, wo);
    }
}
