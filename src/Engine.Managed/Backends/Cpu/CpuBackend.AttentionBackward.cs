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
        using var timing = CpuOpProfile.Time(op);
        CheckAttentionTypes(op, q, cache);
        foreach (var (name, x) in new[] { ("output", output), ("dOutput", dOutput), ("dq", dq), ("logSumExp", logSumExp), ("dKeys", dKeys), ("dValues", dValues) })
        {
            OpCheck.Backend(this, op, name, x);
            OpCheck.DType(op, name, x, DType.F32);
        }
        var (t, heads, dh, kvHeads) = OpShapes.AttentionBackward(op, q, cache, tokens, output, logSumExp, dOutput, dq, dKeys, dValues);
        var (rows, pos, tags) = ReadTokenSlots(op, tokens, cache);
        var layout = AttentionLayout(q, cache, pos, tags, heads, kvHeads, dh, scale);
        var byRow = CpuAttention.Blocks(rows).GroupBy(b => b.Row).Select(g => g.ToList()).ToList();
        nint oa = output.Address, la = logSumExp.Address, doa = dOutput.Address, dqa = dq.Address, dka = dKeys.Address, dva = dValues.Address;
        long avgKeys = pos.Length == 0 ? 0 : (long)pos.Average() + 1;

        // One item per (cache row, KV head): it owns that slice of dKeys/dValues and the dq rows of every query head that
        // reads it, so no two threads write the same memory and every sum runs in a fixed order.
        CpuParallel.For(byRow.Count * kvHeads, 10L * avgKeys * dh * (heads / kvHeads) * t / Math.Max(1, byRow.Count), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (first, last) =>
        {
            for (int item = first; item < last; item++)
                CpuAttention.Backward(layout, byRow[item / kvHeads], item % kvHeads, (float*)oa, (float*)la, (float*)doa, (float*)dqa,
                    (float*)dka, (float*)dva);
        });
    }

    public void KvGather(Tensor dKeys, Tensor dValues, TokenMap tokens, Tensor dk, Tensor dv, bool accumulate = false)
    {
        const string op = "KvGather";
        using var timing = CpuOpProfile.Time(op);
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
