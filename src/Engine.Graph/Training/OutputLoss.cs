using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Training;

/// <summary>
/// The losses on the output head, computed a chunk of rows at a time so no [tokens x 65536] logit tensor ever
/// exists: next-token cross-entropy against targets with Lumina-mGPT's z-loss (mean logsumexp^2 of the same rows),
/// and KL(P_reference || P) against a reference pass's hidden states (the frozen model). Produces the gradient w.r.t.
/// the normed hidden states, ready for the model's backward, or only the values.
/// </summary>
/// <param name="head">The output rows the distributions range over: the whole head (default), or a slice of it (the
/// image codes, for scoring images as the sampler draws them); targets are then indices into the slice.</param>
public sealed class OutputLoss(ChameleonModel model, int chunkRows = 256, Tensor? head = null) : IDisposable
{
    private readonly IBackend _b = model.Backend;
    private readonly Workspace _ws = new(model.Backend);
    private readonly Tensor _head = head ?? model.Weights.LmHead;

    /// <summary>Mean losses over the rows that count (ZLoss: mean logsumexp^2).</summary>
    public readonly record struct Values(double CrossEntropy, double ZLoss, double Kl, int Rows);

    /// <param name="hidden">Normed hidden states [n, D] of the rows that predict the targets.</param>
    /// <param name="targets">The next token of each row, or -1 to ignore it.</param>
    /// <param name="ntpWeight">Weight of the NTP term, mean cross-entropy + <paramref name="zLossWeight"/> x mean z-loss, in the total loss.</param>
    /// <param name="reference">Normed hidden states [n, D] of the same rows through the reference (frozen) model, or null.</param>
    /// <param name="klWeight">Weight of the mean KL(P_reference || P) in the total loss.</param>
    /// <param name="dHidden">[n, D]: receives d(total)/d(hidden); null: the values only.</param>
    public Values Compute(Tensor hidden, int[] targets, float ntpWeight, Tensor? reference, float klWeight, Tensor? dHidden,
        float zLossWeight = 0f)
    {
        int n = hidden.Dim(0), v = _head.Dim(0);
        if (targets.Length != n) throw new ArgumentException($"{targets.Length} targets for {n} hidden rows");
        int counted = targets.Count(t => t >= 0);
        if (counted == 0) throw new ArgumentException("no target row counts (every target is -1)");
        var head = _head;
        double ce = 0, z = 0, kl = 0;
        var host = new float[chunkRows];
        for (int start = 0; start < n; start += chunkRows)
        {
            int rows = Math.Min(chunkRows, n - start);
            var h = hidden.Rows(start, rows);
            var logits = _ws.Get("logits", DType.F32, rows, v);
            _b.MatMul(h, head, logits);
            var losses = _ws.Get("losses", DType.F32, rows);
            var lse = _ws.Get("lse", DType.F32, rows);
            var chunkTargets = _ws.Get("targets", DType.I32, rows);
            _b.Upload<int>(targets.AsSpan(start, rows), chunkTargets);
            var dLogits = _ws.Get("d_logits", DType.F32, rows, v);
            _b.SoftmaxCrossEntropy(logits, chunkTargets, losses, dLogits, ntpWeight / counted, ntpWeight * zLossWeight / counted, lse);
            ce += Sum(losses, rows, host, squares: false);
            z += Sum(lse, rows, host, squares: true);
            if (reference is not null)
            {
                var refLogits = _ws.Get("ref_logits", DType.F32, rows, v);
                _b.MatMul(reference.Rows(start, rows), head, refLogits);
                // Rows whose target is ignored do not count in the KL either.
                for (int i = 0; i < rows; i++)
                    if (targets[start + i] < 0) _b.Copy(logits.Rows(i, 1), refLogits.Rows(i, 1));
                var klGrad = _ws.Get("d_kl", DType.F32, rows, v);
                _b.KlDivergence(refLogits, logits, losses, klGrad, klWeight / counted);
                kl += Sum(losses, rows, host, squares: false);
                if (dHidden is not null) _b.Add(dLogits, klGrad, dLogits);
            }
            if (dHidden is not null) _b.MatMulInputGrad(dLogits, head, dHidden.Rows(start, rows));
        }
        return new Values(ce / counted, z / counted, kl / counted, counted);
    }

    private double Sum(Tensor values, int rows, float[] host, bool squares)
    {
        _b.Download<float>(values.View([rows]), host.AsSpan(0, rows));
        double s = 0;
        for (int i = 0; i < rows; i++) s += squares ? (double)host[i] * host[i] : host[i];
        return s;
    }

    public void Dispose() => _ws.Dispose();
}
