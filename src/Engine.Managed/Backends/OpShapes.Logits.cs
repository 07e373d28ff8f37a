using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends;

/// <summary>The ops on rows of logits: guidance, constraints, sampling and the training losses.</summary>
public static partial class OpShapes
{
    /// <summary>cond, uncond and output [n, V] (output may be cond), scales [n].</summary>
    public static (int N, int V) CfgCombine(string op, Tensor cond, Tensor uncond, Tensor scales, Tensor output)
    {
        OpCheck.Rank(op, "cond", cond, 2);
        int n = cond.Dim(0), v = cond.Dim(1);
        OpCheck.SameShape(op, "cond", cond, "uncond", uncond);
        OpCheck.SameShape(op, "cond", cond, "output", output);
        OpCheck.Shape(op, "scales", scales, n);
        return (n, v);
    }

    /// <summary>logits [n, V], rules [n, 3].</summary>
    public static (int N, int V) ConstrainLogits(string op, Tensor logits, Tensor rules)
    {
        OpCheck.Rank(op, "logits", logits, 2);
        int n = logits.Dim(0), v = logits.Dim(1);
        OpCheck.Shape(op, "rules", rules, n, 3);
        return (n, v);
    }

    /// <summary>logits [n, V]; topK, temperature and output [n]; rngKeys [n, 4].</summary>
    public static (int N, int V) SampleTopK(string op, Tensor logits, Tensor topK, Tensor temperature, Tensor rngKeys, Tensor output)
    {
        OpCheck.Rank(op, "logits", logits, 2);
        int n = logits.Dim(0), v = logits.Dim(1);
        OpCheck.Shape(op, "topK", topK, n);
        OpCheck.Shape(op, "temperature", temperature, n);
        OpCheck.Shape(op, "rngKeys", rngKeys, n, 4);
        OpCheck.Shape(op, "output", output, n);
        return (n, v);
    }

    /// <summary>The loss rows (see <see cref="LossRows"/>) and targets [n].</summary>
    public static (int N, int V) SoftmaxCrossEntropy(string op, Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, Tensor? logSumExp)
    {
        int n = LossRows(op, logits, losses, dLogits);
        OpCheck.Shape(op, "targets", targets, n);
        if (logSumExp is not null) OpCheck.Shape(op, "logSumExp", logSumExp, n);
        return (n, logits.Dim(1));
    }

    /// <summary>The loss rows (see <see cref="LossRows"/>) and reference like logits, apart from dLogits.</summary>
    public static (int N, int V) KlDivergence(string op, Tensor reference, Tensor logits, Tensor losses, Tensor dLogits)
    {
        int n = LossRows(op, logits, losses, dLogits);
        OpCheck.SameShape(op, "reference", reference, "logits", logits);
        OpCheck.NoAlias(op, "reference", reference, "dLogits", dLogits);
        return (n, logits.Dim(1));
    }

    /// <summary>logits [n, V], losses [n], dLogits like logits (the same memory or apart), losses apart from both; returns n.</summary>
    private static int LossRows(string op, Tensor logits, Tensor losses, Tensor dLogits)
    {
        OpCheck.Rank(op, "logits", logits, 2);
        int n = logits.Dim(0);
        OpCheck.Shape(op, "losses", losses, n);
        OpCheck.SameShape(op, "logits", logits, "dLogits", dLogits);
        if (dLogits.Address != logits.Address) OpCheck.NoAlias(op, "logits", logits, "dLogits", dLogits);
        OpCheck.NoAlias(op, "logits", logits, "losses", losses);
        OpCheck.NoAlias(op, "dLogits", dLogits, "losses", losses);
        return n;
    }
}
