using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.LossKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// Training losses over F32 logits rows with their gradients (kernels/losses.cu), one block per row with fp64 sums.
/// Targets are device data: a target outside [-1, V) (the CPU throws) gives that row a NaN loss and gradient.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>Threads per row: LOSS_THREADS in kernels/losses.cu.</summary>
    private const int LossThreads = 512;

    public void SoftmaxCrossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, float gradScale,
        float zLossScale = 0f, Tensor? logSumExp = null)
    {
        const string op = "SoftmaxCrossEntropy";
        CheckLossTypes(op, logits, losses, dLogits);
        CheckI32(op, "targets", targets);
        if (logSumExp is not null) CheckF32(op, "logSumExp", logSumExp);
        var (n, v) = OpShapes.SoftmaxCrossEntropy(op, logits, targets, losses, dLogits, logSumExp);
        if (n == 0) return;
        var args = new CrossEntropyArgs
        {
            Losses = Ptr(losses), LogSumExp = logSumExp is null ? 0 : Ptr(logSumExp), DLogits = Ptr(dLogits), Logits = Ptr(logits),
            Targets = Ptr(targets), V = v, GradScale = gradScale, ZLossScale = zLossScale, Vec = Flag(v % 4 == 0 && Aligned16(logits, dLogits)),
        };
        Launch(LossKernels.SoftmaxCrossEntropy, n, LossThreads, ref args);
    }

    public void KlDivergence(Tensor reference, Tensor logits, Tensor losses, Tensor dLogits, float gradScale)
    {
        const string op = "KlDivergence";
        CheckLossTypes(op, logits, losses, dLogits);
        CheckF32(op, "reference", reference);
        var (n, v) = OpShapes.KlDivergence(op, reference, logits, losses, dLogits);
        if (n == 0) return;
        var args = new KlArgs
        {
            Losses = Ptr(losses), DLogits = Ptr(dLogits), Reference = Ptr(reference), Logits = Ptr(logits), V = v, GradScale = gradScale,
            Vec = Flag(v % 4 == 0 && Aligned16(reference, logits, dLogits)),
        };
        Launch(LossKernels.KlDivergence, n, LossThreads, ref args);
    }

    /// <summary>The losses take logits, losses and dLogits in F32 (their shapes: <see cref="OpShapes"/>).</summary>
    private void CheckLossTypes(string op, Tensor logits, Tensor losses, Tensor dLogits)
    {
        CheckF32(op, "logits", logits);
        CheckF32(op, "losses", losses);
        CheckF32(op, "dLogits", dLogits);
    }
}
