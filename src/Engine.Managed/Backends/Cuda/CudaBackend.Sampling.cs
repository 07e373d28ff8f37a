using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.SamplingKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Per-image sampling on F32 logits (kernels/sampling.cu): guidance, the layout constraint and the top-k draw, with
/// no host round trip; the caller downloads the sampled ids. Rules, temperatures and keys are device data: a row the
/// CPU would reject (forced id outside the vocabulary, empty window, temperature not positive and finite, every logit
/// -inf or NaN) samples -1 instead of throwing.
/// </summary>
public sealed partial class CudaBackend
{
    private const int LogitThreads = 256;

    /// <summary>Threads of the one-block-per-row draw: SAMPLE_THREADS in kernels/sampling.cu.</summary>
    private const int SampleThreads = 512;

    /// <summary>output = cond + (scale - 1) * (cond - uncond) per row, the CPU's result bit for bit; output may be cond.</summary>
    public void CfgCombine(Tensor cond, Tensor uncond, Tensor scales, Tensor output)
    {
        const string op = "CfgCombine";
        CheckF32(op, "cond", cond);
        CheckF32(op, "uncond", uncond);
        CheckF32(op, "scales", scales);
        CheckF32(op, "output", output);
        var (n, v) = OpShapes.CfgCombine(op, cond, uncond, scales, output);
        if (n == 0 || v == 0) return;
        bool vec = v % 4 == 0 && Aligned16(cond, uncond, output);
        var args = new CfgArgs { Out = Ptr(output), Cond = Ptr(cond), Uncond = Ptr(uncond), Scales = Ptr(scales), V = v, Vec = Flag(vec) };
        Launch(SamplingKernels.CfgCombine, LogitGrid(n, v, vec), LogitThreads, ref args);
    }

    public void ConstrainLogits(Tensor logits, Tensor rules)
    {
        const string op = "ConstrainLogits";
        CheckF32(op, "logits", logits);
        CheckI32(op, "rules", rules);
        var (n, v) = OpShapes.ConstrainLogits(op, logits, rules);
        if (n == 0 || v == 0) return;
        bool vec = v % 4 == 0 && Aligned16(logits);
        var args = new ConstrainArgs { Logits = Ptr(logits), Rules = Ptr(rules), V = v, Vec = Flag(vec) };
        Launch(SamplingKernels.ConstrainLogits, LogitGrid(n, v, vec), LogitThreads, ref args);
    }

    public void SampleTopK(Tensor logits, Tensor topK, Tensor temperature, Tensor rngKeys, Tensor output)
    {
        const string op = "SampleTopK";
        CheckF32(op, "logits", logits);
        CheckI32(op, "topK", topK);
        CheckF32(op, "temperature", temperature);
        CheckI32(op, "rngKeys", rngKeys);
        CheckI32(op, "output", output);
        var (n, v) = OpShapes.SampleTopK(op, logits, topK, temperature, rngKeys, output);
        if (n == 0) return;
        if (v == 0) throw new ArgumentException($"{op}: the logits rows are empty: nothing can be sampled");
        var args = new SampleArgs
        {
            Out = Ptr(output), Logits = Ptr(logits), TopK = Ptr(topK), Temperature = Ptr(temperature), RngKeys = Ptr(rngKeys), V = v,
            Vec = Flag(v % 4 == 0 && Aligned16(logits)),
        };
        Launch(SamplingKernels.SampleTopK, n, SampleThreads, ref args);
    }

    /// <summary>(column blocks, rows): a thread per element, or per float4 when vectorized.</summary>
    private static Dim3 LogitGrid(int rows, int v, bool vec)
    {
        if (rows > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(rows), $"{rows} logit rows exceed the {ushort.MaxValue} a launch takes at once");
        int perThread = vec ? 4 : 1;
        long columnBlocks = ((long)v + (long)LogitThreads * perThread - 1) / ((long)LogitThreads * perThread);
        return new Dim3((uint)columnBlocks, (uint)rows);
    }
}
