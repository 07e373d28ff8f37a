using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Rope(Tensor x, Tensor positions, float theta, Tensor y) => Rotate("Rope", "x", x, "y", y, positions, theta, 1f);

    /// <summary>
    /// Rotates each pair of dims (j, j + Dh/2) by direction * pos * inv_freq[j]: direction 1 is RoPE, -1 its inverse
    /// (orthogonal, so also its gradient). y may alias x.
    /// </summary>
    private void Rotate(string op, string xName, Tensor x, string yName, Tensor y, Tensor positions, float theta, float direction)
    {
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, xName, x);
        OpCheck.Backend(this, op, "positions", positions);
        OpCheck.Backend(this, op, yName, y);
        OpCheck.DType(op, xName, x, DType.F32);
        OpCheck.DType(op, yName, y, DType.F32);
        OpCheck.DType(op, "positions", positions, DType.I32);
        var (t, heads, dh) = OpShapes.Rope(op, xName, x, yName, y, positions);
        int half = dh / 2;
        var invFreq = RopeFrequencies(theta, dh);
        var pos = I32(positions).ToArray();
        nint xa = x.Address, ya = y.Address;
        CpuParallel.For(t, 8L * heads * dh, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            Span<float> cos = stackalloc float[half];
            Span<float> sin = stackalloc float[half];
            for (int i = first; i < last; i++)
            {
                RopeAngles(pos[i], invFreq, cos, sin);
                for (int h = 0; h < heads; h++)
                {
                    float* xr = (float*)xa + ((long)i * heads + h) * dh;
                    float* yr = (float*)ya + ((long)i * heads + h) * dh;
                    for (int j = 0; j < half; j++)
                    {
                        float a = xr[j], b = xr[j + half], sn = direction * sin[j];
                        yr[j] = a * cos[j] - b * sn;
                        yr[j + half] = b * cos[j] + a * sn;
                    }
                }
            }
        });
    }

    /// <summary>inv_freq[j] = theta^(-2j/Dh) rounded to fp32, as the reference computes it.</summary>
    public static float[] RopeFrequencies(float theta, int headDim)
    {
        var f = new float[headDim / 2];
        for (int j = 0; j < f.Length; j++)
            f[j] = (float)(1.0 / Math.Pow(theta, 2.0 * j / headDim));
        return f;
    }

    /// <summary>The angle pos * inv_freq is formed in fp32 (as the reference does); cos and sin of it in fp64.</summary>
    public static void RopeAngles(int position, ReadOnlySpan<float> invFreq, Span<float> cos, Span<float> sin)
    {
        for (int j = 0; j < invFreq.Length; j++)
        {
            float angle = position * invFreq[j];
            cos[j] = (float)Math.Cos(angle);
            sin[j] = (float)Math.Sin(angle);
        }
    }

    public void KvStore(Tensor keys, Tensor values, TokenMap tokens, KvLayer cache)
    {
        const string op = "KvStore";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "keys", keys);
        OpCheck.Backend(this, op, "values", values);
        OpCheck.Backend(this, op, "cache.Keys", cache.Keys);
        OpCheck.DType(op, "keys", keys, DType.F32);
        OpCheck.DType(op, "values", values, DType.F32);
        OpCheck.DType(op, "cache.Keys", cache.Keys, DType.F32);
        OpCheck.DType(op, "cache.Values", cache.Values, DType.F32);
        var (t, kvHeads, dh) = OpShapes.KvStore(op, keys, values, tokens, cache);
        var rows = I32(tokens.Rows);
        var pos = I32(tokens.Positions);
        var tags = I32(tokens.Tags);
        var keyTags = I32(cache.KeyTags);
        var k = F32(keys);
        var v = F32(values);
        var kc = F32(cache.Keys);
        var vc = F32(cache.Values);
        int capacity = cache.Capacity;
        for (int i = 0; i < t; i++)
        {
            CheckSlot(op, i, rows[i], pos[i], cache);
            keyTags[rows[i] * capacity + pos[i]] = tags[i];
            for (int h = 0; h < kvHeads; h++)
            {
                long src = ((long)i * kvHeads + h) * dh;
                long dst = (((long)rows[i] * kvHeads + h) * capacity + pos[i]) * dh;
                k.Slice((int)src, dh).CopyTo(kc.Slice((int)dst, dh));
                v.Slice((int)src, dh).CopyTo(vc.Slice((int)dst, dh));
            }
        }
    }

    private static void CheckSlot(string op, int token, int row, int position, KvLayer cache) =>
        CheckSlot(op, token, row, position, cache.Rows, cache.Capacity);

    private static void CheckSlot(string op, int token, int row, int position, int cacheRows, int capacity)
    {
        if ((uint)row >= (uint)cacheRows)
            throw new ArgumentOutOfRangeException(nameof(row), $"{op}: token {token} names cache row {row}; the cache has {cacheRows} rows");
        if ((uint)position >= (uint)capacity)
            throw new ArgumentOutOfRangeException(nameof(position), $"{op}: token {token} has position {position}; the cache holds {capacity} positions per row");
    }

    /// <summary>The identity rule: tagged tokens of different concepts never see each other; untagged see all.</summary>
    public static bool Visible(int queryTag, int keyTag) => queryTag == 0 || keyTag == 0 || queryTag == keyTag;

    public void Attention(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor? logSumExp = null)
    {
        const string op = "Attention";
        using var timing = CpuOpProfile.Time(op);
        CheckAttentionTypes(op, q, cache);
        OpCheck.Backend(this, op, "output", output);
        OpCheck.DType(op, "output", output, DType.F32);
        if (logSumExp is not null)
        {
            OpCheck.Backend(this, op, "logSumExp", logSumExp);
            OpCheck.DType(op, "logSumExp", logSumExp, DType.F32);
        }
        var (t, heads, dh, kvHeads) = OpShapes.Attention(op, q, cache, tokens, output, logSumExp);
        var (rows, pos, tags) = ReadTokenSlots(op, tokens, cache);
        var layout = AttentionLayout(q, cache, pos, tags, heads, kvHeads, dh, scale);
        var blocks = CpuAttention.Blocks(rows);
        nint oa = output.Address, la = logSumExp?.Address ?? 0;
        long avgKeys = pos.Length == 0 ? 0 : (long)pos.Average() + 1;
        CpuParallel.For(blocks.Count * heads, 4L * avgKeys * dh * CpuAttention.BlockQueries, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int item = first; item < last; item++)
                CpuAttention.Forward(layout, blocks[item / heads], item % heads, (float*)oa, (float*)la);
        });
    }

    /// <summary>The token map's positions and tags and the tensors' addresses and sizes, for <see cref="CpuAttention"/>.</summary>
    private static CpuAttention.Layout AttentionLayout(Tensor q, KvLayer cache, int[] pos, int[] tags, int heads, int kvHeads, int dh, float scale) => new()
    {
        Q = (float*)q.Address, Keys = (float*)cache.Keys.Address, Values = (float*)cache.Values.Address, KeyTags = (int*)cache.KeyTags.Address,
        Positions = pos, Tags = tags, Heads = heads, KvHeads = kvHeads, HeadDim = dh, Capacity = cache.Capacity, Scale = scale,
    };

    /// <summary>Attention reads q and the cache in F32 (their shapes: <see cref="OpShapes"/>).</summary>
    private void CheckAttentionTypes(string op, Tensor q, KvLayer cache)
    {
        foreach (var (name, x) in new[] { ("q", q), ("cache.Keys", cache.Keys), ("cache.Values", cache.Values) })
        {
            OpCheck.Backend(this, op, name, x);
            OpCheck.DType(op, name, x, DType.F32);
        }
    }

    /// <summary>The token map as arrays, once every token's slot is known to be inside the cache.</summary>
    private (int[] Rows, int[] Positions, int[] Tags) ReadTokenSlots(string op, TokenMap tokens, KvLayer cache)
    {
        var rows = I32(tokens.Rows).ToArray();
        var pos = I32(tokens.Positions).ToArray();
        var tags = I32(tokens.Tags).ToArray();
        for (int i = 0; i < rows.Length; i++) CheckSlot(op, i, rows[i], pos[i], cache);
        return (rows, pos, tags);
    }
}
