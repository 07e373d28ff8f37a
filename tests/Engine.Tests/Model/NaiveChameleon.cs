using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;

namespace CoAR.Engine.Tests.Model;

/// <summary>
/// The whole Chameleon forward pass for one sequence in float64, written straight from the spec with NaiveOps and
/// no cache: an independent reference for the engine's logits on the tiny model.
/// </summary>
internal sealed class NaiveChameleon
{
    private readonly ChameleonConfig _c;
    private readonly Dictionary<string, double[]> _w = new();
    private readonly Dictionary<string, long[]> _shapes = new();

    public NaiveChameleon(string modelDir)
    {
        _c = ChameleonConfig.Load(Path.Combine(modelDir, "config.json"));
        using var ckpt = SafeTensorsCheckpoint.Open(modelDir);
        foreach (var name in ckpt.Names)
        {
            var info = ckpt.GetTensor(name);
            var bits = new ushort[info.ElementCount];
            ckpt.CopyTo<ushort>(info, bits);
            _w[name] = bits.Select(b => (double)BFloat16.ToSingle(b)).ToArray();
            _shapes[name] = info.Shape;
        }
    }

    public double[] LastLogits(int[] tokens)
    {
        var c = _c;
        int t = tokens.Length, d = c.HiddenSize, h = c.NumHeads, hkv = c.NumKvHeads, dh = c.HeadDim, f = c.IntermediateSize;
        var x = new double[t * d];
        var emb = _w["model.embed_tokens.weight"];
        for (int i = 0; i < t; i++) Array.Copy(emb, tokens[i] * d, x, i * d, d);
        var pos = Enumerable.Range(0, t).ToArray();
        for (int l = 0; l < c.NumLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var a = c.SwinNorm ? x : NaiveOps.RmsNorm(x, _w[p + "input_layernorm.weight"], t, d, c.RmsNormEps);
            var q = NaiveOps.MatMul(a, _w[p + "self_attn.q_proj.weight"], t, d, d);
            var k = NaiveOps.MatMul(a, _w[p + "self_attn.k_proj.weight"], t, d, hkv * dh);
            var v = NaiveOps.MatMul(a, _w[p + "self_attn.v_proj.weight"], t, d, hkv * dh);
            int gq = (int)_shapes[p + "self_attn.q_norm.weight"][0], gk = (int)_shapes[p + "self_attn.k_norm.weight"][0];
            q = NaiveOps.HeadLayerNorm(q, _w[p + "self_attn.q_norm.weight"], _w[p + "self_attn.q_norm.bias"], t, h, dh, gq, 1e-5);
            k = NaiveOps.HeadLayerNorm(k, _w[p + "self_attn.k_norm.weight"], _w[p + "self_attn.k_norm.bias"], t, hkv, dh, gk, 1e-5);
            q = NaiveOps.Rope(q, pos, t, h, dh, c.RopeTheta);
            k = NaiveOps.Rope(k, pos, t, hkv, dh, c.RopeTheta);
            var (att, _) = NaiveOps.Attention(q, t, h, dh, [k], [v], [new int[t]], hkv, new int[t], pos, new int[t], 1 / Math.Sqrt(dh));
            var o = NaiveOps.MatMul(att, _w[p + "self_attn.o_proj.weight"], t, d, d);
            if (c.SwinNorm) o = NaiveOps.RmsNorm(o, _w[p + "input_layernorm.weight"], t, d, c.RmsNormEps);
            for (int i = 0; i < x.Length; i++) x[i] += o[i];
            var m = c.SwinNorm ? x : NaiveOps.RmsNorm(x, _w[p + "post_attention_layernorm.weight"], t, d, c.RmsNormEps);
            var g = NaiveOps.MatMul(m, _w[p + "mlp.gate_proj.weight"], t, d, f);
            var u = NaiveOps.MatMul(m, _w[p + "mlp.up_proj.weight"], t, d, f);
            var s = g.Select((gv, i) => NaiveOps.Silu(gv) * u[i]).ToArray();
            var down = NaiveOps.MatMul(s, _w[p + "mlp.down_proj.weight"], t, f, d);
            if (c.SwinNorm) down = NaiveOps.RmsNorm(down, _w[p + "post_attention_layernorm.weight"], t, d, c.RmsNormEps);
            for (int i = 0; i < x.Length; i++) x[i] += down[i];
        }
        var last = x.Skip((t - 1) * d).Take(d).ToArray();
        var n = NaiveOps.RmsNorm(last, _w["model.norm.weight"], 1, d, c.RmsNormEps);
        return NaiveOps.MatMul(n, _w["lm_head.weight"], 1, d, c.VocabSize);
    }
}
