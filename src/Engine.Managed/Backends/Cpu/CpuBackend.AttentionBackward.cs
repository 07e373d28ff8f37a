using System.Runtime.CompilerServices;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>Gradients of attention over the KV cache, and of KvStore.</summary>
public sealed unsafe partial class CpuBackend
{
    public void AttentionBackward(Tensor q, KvLayer cache, TokenMap tokens, float scale, Tensor output, Tensor logSumExp,
        Tensor dOutput, Tensor dq, Tensor dKeys, Tensor dValues)
    {
        const string op = "AttentionBackward";
        CheckAttentionTypes(op, q, cache);
        foreach (var (name, x) in new[] { ("output", output), ("dOutput", dOutput), ("dq", dq), ("logSumExp", logSumExp), ("dKeys", dKeys), ("dValues", dValues) })
        {
            OpCheck.Backend(this, op, name, x);
            OpCheck.DType(op, name, x, DType.F32);
        }
        var (t, heads, dh, kvHeads) = OpShapes.AttentionBackward(op, q, cache, tokens, output, logSumExp, dOutput, dq, dKeys, dValues);
        var (rows, pos, tags) = ReadTokenSlots(op, tokens, cache);

        int cacheRows = cache.Rows, capacity = cache.Capacity, group = heads / kvHeads;
        var tokensOfRow = Enumerable.Range(0, cacheRows).Select(r => Enumerable.Range(0, t).Where(i => rows[i] == r).ToArray()).ToArray();
        nint qa = q.Address, oa = output.Address, doa = dOutput.Address, dqa = dq.Address, la = logSumExp.Address;
        nint ka = cache.Keys.Address, va = cache.Values.Address, ta = cache.KeyTags.Address, dka = dKeys.Address, dva = dValues.Address;
        long avgKeys = pos.Length == 0 ? 0 : (long)pos.Average() + 1;

        // One item per (cache row, KV head): it owns that slice of dKeys/dValues and the dq rows of every query head that
        // reads it, so no two threads write the same memory and the sums run in a fixed order (fp32, ascending tokens).
        // Per query: p = exp(s - lse), dV += p dO, dP = dO V^T, dS = p (dP - rowsum(dO * O)), dq = scale dS K,
        // dK += scale dS^T q.
        CpuParallel.For(cacheRows * kvHeads, 6L * avgKeys * dh * group * t / Math.Max(1, cacheRows), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int item = first; item < last; item++)
            {
                int row = item / kvHeads, kvh = item % kvHeads;
                long kvBase = ((long)row * kvHeads + kvh) * capacity * dh;
                int* keyTags = (int*)ta + (long)row * capacity;
                foreach (int i in tokensOfRow[row])
                {
                    for (int h = kvh * group; h < (kvh + 1) * group; h++)
                    {
                        long qh = (long)i * heads + h;
                        var qr = new ReadOnlySpan<float>((float*)qa + qh * dh, dh);
                        var dor = new ReadOnlySpan<float>((float*)doa + qh * dh, dh);
                        var dqr = new Span<float>((float*)dqa + qh * dh, dh);
                        dqr.Clear();
                        float delta = TensorPrimitives.Dot(dor, new ReadOnlySpan<float>((float*)oa + qh * dh, dh));
                        float lse = ((float*)la)[qh];
                        for (int j = 0; j <= pos[i]; j++)
                        {
                            if (!Visible(tags[i], keyTags[j])) continue;
                            long at = kvBase + (long)j * dh;
                            var kr = new ReadOnlySpan<float>((float*)ka + at, dh);
                            var vr = new ReadOnlySpan<float>((float*)va + at, dh);
                            var dkr = new Span<float>((float*)dka + at, dh);
                            var dvr = new Span<float>((float*)dva + at, dh);
                            float p = MathF.Exp(TensorPrimitives.Dot(qr, kr) * scale - lse);
                            TensorPrimitives.MultiplyAdd(dor, p, dvr, dvr);
                            float ds = p * (TensorPrimitives.Dot(dor, vr) - delta) * scale;
                            TensorPrimitives.MultiplyAdd(kr, ds, dqr, dqr);
                            TensorPrimitives.MultiplyAdd(qr, ds, dkr, dkr);
                        }
                    }
                }
            }
        });
    }

    public void KvGather(Tensor dKeys, Tensor dValues, TokenMap tokens, Tensor dk, Tensor dv, bool accumulate = false)
    {
        const string op = "KvGather";
        foreach (var (name, x) in new[] { ("dKeys", dKeys), ("dValues", dValues), ("dk", dk), ("dv", dv) })
        {
            OpCheck.Backend(this, op, name, x);
            OpCheck.DType(op, name, x, DType.F32);
        }
        var (t, kvHeads, dh) = OpShapes.KvGather(op, dKeys, dValues, tokens, dk, dv);
        var rows = I32(tokens.Rows);
        var pos = I32(tokens.Positions);
        int cacheRows = dKeys.Dim(0), capacity = dKeys.Dim(2);
        for (int i = 0; i < t; i++) CheckSlot(op, i, rows[i], pos[i], cacheRows, capacity);
        var kc = F32(dKeys);
        var vc = F32(dValues);
        var k = F32(dk);
        var v = F32(dv);
        for (int i = 0; i < t; i++)
            for (int h = 0; h < kvHeads; h++)
            {
                int dst = (i * kvHeads + h) * dh;
                int src = (int)((((long)rows[i] * kvHeads + h) * capacity + pos[i]) * dh);
                if (accumulate)
                {
                    TensorPrimitives.Add(k.Slice(dst, dh), kc.Slice(src, dh), k.Slice(dst, dh));
                    TensorPrimitives.Add(v.Slice(dst, dh), vc.Slice(src, dh), v.Slice(dst, dh));
                }
                else
                {
                    kc.Slice(src, dh).CopyTo(k.Slice(dst, dh));
                    vc.Slice(src, dh).CopyTo(v.Slice(dst, dh));
                }
            }
    }
}
