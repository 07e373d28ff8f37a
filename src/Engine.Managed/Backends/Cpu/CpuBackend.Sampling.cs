using System.Runtime.CompilerServices;
using System.Buffers;
using System.Runtime.Intrinsics;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a pass over the vocabulary per row per decode step
    public void CfgCombine(Tensor cond, Tensor uncond, Tensor scales, Tensor output)
    {
        const string op = "CfgCombine";
        using var timing = CpuOpProfile.Time(op);
        foreach (var (name, t) in new[] { ("cond", cond), ("uncond", uncond), ("scales", scales), ("output", output) })
        {
            OpCheck.Backend(this, op, name, t);
            OpCheck.DType(op, name, t, DType.F32);
        }
        var (n, v) = OpShapes.CfgCombine(op, cond, uncond, scales, output);
        float* c = (float*)cond.Address, u = (float*)uncond.Address, o = (float*)output.Address;
        var scale = F32(scales);
        for (int r = 0; r < n; r++)
        {
            // o = c + g (c - u), elementwise in fp32 (the reference's formula).
            float g = scale[r] - 1f;
            var vg = Vector512.Create(g);
            long i = (long)r * v, end = i + v;
            for (; i + 16 <= end; i += 16)
            {
                var ci = Vector512.Load(c + i);
                (ci + vg * (ci - Vector512.Load(u + i))).Store(o + i);
            }
            for (; i < end; i++) o[i] = c[i] + g * (c[i] - u[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a pass over the vocabulary per row per decode step
    public void ConstrainLogits(Tensor logits, Tensor rules)
    {
        const string op = "ConstrainLogits";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "logits", logits);
        OpCheck.Backend(this, op, "rules", rules);
        OpCheck.DType(op, "logits", logits, DType.F32);
        OpCheck.DType(op, "rules", rules, DType.I32);
        var (n, v) = OpShapes.ConstrainLogits(op, logits, rules);
        var l = F32(logits);
        var rule = I32(rules);
        for (int r = 0; r < n; r++)
        {
            int forced = rule[3 * r], from = rule[3 * r + 1], to = rule[3 * r + 2];
            var row = l.Slice(r * v, v);
            if (forced >= 0)
            {
                if (forced >= v)
                    throw new ArgumentOutOfRangeException(nameof(rules), $"{op}: row {r} forces token {forced}, outside the vocabulary [0, {v})");
                float keep = row[forced];
                row.Fill(float.NegativeInfinity);
                row[forced] = float.IsNegativeInfinity(keep) ? 0f : keep;
                continue;
            }
            if (from < 0 || to > v || from >= to)
                throw new ArgumentOutOfRangeException(nameof(rules), $"{op}: row {r} allows [{from}, {to}), not a non-empty range of [0, {v})");
            row[..from].Fill(float.NegativeInfinity);
            row[to..].Fill(float.NegativeInfinity);
        }
    }

    public void SampleTopK(Tensor logits, Tensor topK, Tensor temperature, Tensor rngKeys, Tensor output)
    {
        const string op = "SampleTopK";
        using var timing = CpuOpProfile.Time(op);
        OpCheck.Backend(this, op, "logits", logits);
        OpCheck.Backend(this, op, "output", output);
        OpCheck.DType(op, "logits", logits, DType.F32);
        OpCheck.DType(op, "topK", topK, DType.I32);
        OpCheck.DType(op, "temperature", temperature, DType.F32);
        OpCheck.DType(op, "rngKeys", rngKeys, DType.I32);
        OpCheck.DType(op, "output", output, DType.I32);
        var (n, v) = OpShapes.SampleTopK(op, logits, topK, temperature, rngKeys, output);
        var l = F32(logits);
        var k = I32(topK);
        var temp = F32(temperature);
        var keys = I32(rngKeys);
        var o = I32(output);
        var scratch = ArrayPool<float>.Shared.Rent(v);
        try
        {
            for (int r = 0; r < n; r++)
            {
                if (!(temp[r] > 0) || float.IsInfinity(temp[r]))
                    throw new ArgumentOutOfRangeException(nameof(temperature), $"{op}: row {r} has temperature {temp[r]}; expected a positive number");
                ulong seed = (uint)keys[4 * r] | (ulong)(uint)keys[4 * r + 1] << 32;
                ulong counter = (uint)keys[4 * r + 2] | (ulong)(uint)keys[4 * r + 3] << 32;
                o[r] = TopKSampler.Sample(l.Slice(r * v, v), k[r], temp[r], Philox.Uniform(seed, counter), scratch);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
        }
    }
}
