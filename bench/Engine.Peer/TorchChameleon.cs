using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using EngineTensor = CoAR.Engine.Managed.Tensors.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace CoAR.Engine.Peer;

/// <summary>
/// The same Chameleon forward as the engine's, written in LibTorch ops (TorchSharp) over fp32 copies of the engine's
/// bf16 weights: pre-norm layers of RMSNorm, q/k/v, per-head LayerNorm, rotate-half RoPE, causal attention
/// (scaled_dot_product_attention), o, RMSNorm, SwiGLU, with a KV cache per row for decode steps.
/// </summary>
public sealed class TorchChameleon : IDisposable
{
    private readonly ChameleonConfig _c;
    private readonly TorchTensor _embedding, _finalNorm, _lmHead;
    private readonly Layer[] _layers;
    private readonly float[] _invFreq;
    private TorchTensor?[] _keys = [], _values = [];
    private int _cached;

    private sealed record Layer(TorchTensor AttnNorm, TorchTensor Q, TorchTensor K, TorchTensor V, TorchTensor O, TorchTensor QNormW,
        TorchTensor QNormB, TorchTensor KNormW, TorchTensor KNormB, TorchTensor FfnNorm, TorchTensor Gate, TorchTensor Up, TorchTensor Down);

    public TorchChameleon(ChameleonConfig config, ChameleonWeights w, CpuBackend engine)
    {
        _c = config;
        TorchTensor T(EngineTensor t) => ToTorch(engine, t);
        _embedding = T(w.Embedding);
        _finalNorm = T(w.FinalNorm);
        _lmHead = T(w.LmHead);
        _layers = w.Layers.Select(l => new Layer(T(l.AttnNorm), T(l.Q), T(l.K), T(l.V), T(l.O), T(l.QNormWeight!), T(l.QNormBias!),
            T(l.KNormWeight!), T(l.KNormBias!), T(l.FfnNorm), T(l.Gate), T(l.Up), T(l.Down))).ToArray();
        _invFreq = CpuBackend.RopeFrequencies(config.RopeTheta, config.HeadDim);
    }

    /// <summary>A weight of the engine (bf16 or fp32) as an fp32 LibTorch tensor holding exactly the same values.</summary>
    private static TorchTensor ToTorch(CpuBackend engine, EngineTensor t)
    {
        var values = new float[t.ElementCount];
        if (t.DType == DType.BF16)
        {
            var bits = new ushort[t.ElementCount];
            engine.Download<ushort>(t, bits);
            CoAR.Engine.Managed.Tensors.BFloat16.ToSingle(bits, values);
        }
        else
            engine.Download<float>(t, values);
        var shape = t.Shape.ToArray().Select(d => (long)d).ToArray();
        return torch.tensor(values, shape, ScalarType.Float32);
    }

    /// <summary>Starts <paramref name="rows"/> empty KV-cache rows.</summary>
    public void Reset(int rows)
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
        _keys = new TorchTensor?[_c.NumLayers];
        _values = new TorchTensor?[_c.NumLayers];
        _cached = 0;
        Rows = rows;
    }

    public int Rows { get; private set; }

    /// <summary>
    /// Appends <paramref name="tokens"/> [rows][n] (every row the same length, at the cache's next positions) and
    /// returns the logits of each row's last token [rows, vocab].
    /// </summary>
    public float[] Forward(int[][] tokens)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        int rows = tokens.Length, n = tokens[0].Length, d = _c.HiddenSize, h = _c.NumHeads, dh = _c.HeadDim;
        var ids = torch.tensor(tokens.SelectMany(r => r).Select(x => (long)x).ToArray(), [rows, n], ScalarType.Int64);
        var x = _embedding.index_select(0, ids.flatten()).reshape(rows, n, d);
        var (cos, sin) = RopeTables(_cached, n);
        for (int i = 0; i < _layers.Length; i++)
        {
            var l = _layers[i];
            var normed = RmsNorm(x, l.AttnNorm);
            var q = HeadNorm(nn.functional.linear(normed, l.Q).reshape(rows, n, h, dh), l.QNormW, l.QNormB);
            var k = HeadNorm(nn.functional.linear(normed, l.K).reshape(rows, n, h, dh), l.KNormW, l.KNormB);
            var v = nn.functional.linear(normed, l.V).reshape(rows, n, h, dh);
            q = Rope(q, cos, sin).transpose(1, 2);
            k = Rope(k, cos, sin).transpose(1, 2);
            v = v.transpose(1, 2);
            var keys = _keys[i] is { } pk ? torch.cat([pk, k], 2) : k;
            var values = _values[i] is { } pv ? torch.cat([pv, v], 2) : v;
            _keys[i]?.Dispose();
            _values[i]?.Dispose();
            _keys[i] = keys.MoveToOuterDisposeScope();
            _values[i] = values.MoveToOuterDisposeScope();
            // A fresh prompt is causal; a step's single query sees the whole cache.
            var attn = nn.functional.scaled_dot_product_attention(q, keys, values, is_casual: n > 1);
            x = x + nn.functional.linear(attn.transpose(1, 2).reshape(rows, n, d), l.O);
            var m = RmsNorm(x, l.FfnNorm);
            x = x + nn.functional.linear(nn.functional.silu(nn.functional.linear(m, l.Gate)) * nn.functional.linear(m, l.Up), l.Down);
        }
        _cached += n;
        var last = RmsNorm(x.select(1, n - 1), _finalNorm);
        return nn.functional.linear(last, _lmHead).data<float>().ToArray();
    }

    private TorchTensor RmsNorm(TorchTensor x, TorchTensor w) =>
        x * torch.rsqrt(x.pow(2).mean([-1], keepdim: true) + _c.RmsNormEps) * w;

    /// <summary>LayerNorm over each head's dims, the affine parameters [G, Dh] shared by heads in groups of H / G.</summary>
    private static TorchTensor HeadNorm(TorchTensor x, TorchTensor weight, TorchTensor bias)
    {
        var mean = x.mean([-1], keepdim: true);
        var centered = x - mean;
        var variance = centered.pow(2).mean([-1], keepdim: true);
        var normed = centered * torch.rsqrt(variance + ChameleonConfig.QkNormEps);
        long groups = weight.shape[0], heads = x.shape[2];
        var w = weight.repeat_interleave(heads / groups, 0);
        var b = bias.repeat_interleave(heads / groups, 0);
        return normed * w + b;
    }

    /// <summary>cos and sin [n, Dh / 2] for positions start.., computed as the engine does (fp32 angle, fp64 cos/sin).</summary>
    private (TorchTensor Cos, TorchTensor Sin) RopeTables(int start, int n)
    {
        int half = _invFreq.Length;
        var cos = new float[n * half];
        var sin = new float[n * half];
        for (int i = 0; i < n; i++)
            CpuBackend.RopeAngles(start + i, _invFreq, cos.AsSpan(i * half, half), sin.AsSpan(i * half, half));
        return (torch.tensor(cos, [n, half]), torch.tensor(sin, [n, half]));
    }

    /// <summary>Rotate-half RoPE on [rows, n, heads, Dh]: (a, b) -> (a cos - b sin, b cos + a sin) per pair (j, j + Dh/2).</summary>
    private static TorchTensor Rope(TorchTensor x, TorchTensor cos, TorchTensor sin)
    {
        long half = x.shape[3] / 2;
        var a = x.narrow(3, 0, half);
        var b = x.narrow(3, half, half);
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        return torch.cat([a * c - b * s, b * c + a * s], 3);
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
        _embedding.Dispose();
        _finalNorm.Dispose();
        _lmHead.Dispose();
        foreach (var l in _layers)
            foreach (var t in new[] { l.AttnNorm, l.Q, l.K, l.V, l.O, l.QNormW, l.QNormB, l.KNormW, l.KNormB, l.FfnNorm, l.Gate, l.Up, l.Down })
                t.Dispose();
    }
}
