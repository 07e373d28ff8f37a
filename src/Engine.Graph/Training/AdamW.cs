namespace CoAR.Engine.Graph.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter) on a flat fp32 parameter vector, with bias correction, as torch.optim.AdamW does:
/// p -= lr * wd * p (decoupled decay, on the decayed range only); m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// p -= lr * m_hat / (sqrt(v_hat) + eps). The moments and the step are its whole state (saved in training checkpoints
/// for an exact resume); the learning rate comes with each update (it follows a schedule).
/// </summary>
public sealed class AdamW(int size, float beta1, float beta2, float weightDecay, float eps)
{
    public float[] M { get; } = new float[size];
    public float[] V { get; } = new float[size];
    public int Step { get; set; }

    /// <param name="decayed">The parameters the weight decay applies to.</param>
    public void Update(Span<float> parameters, ReadOnlySpan<float> gradient, float lr, Range decayed)
    {
        if (parameters.Length != M.Length || gradient.Length != M.Length)
            throw new ArgumentException($"AdamW holds {M.Length} parameters, got {parameters.Length} values and {gradient.Length} gradients");
        Step++;
        double c1 = 1 - Math.Pow(beta1, Step), c2 = 1 - Math.Pow(beta2, Step);
        var (decayStart, decayLength) = decayed.GetOffsetAndLength(parameters.Length);
        float shrink = 1 - lr * weightDecay;
        foreach (ref float p in parameters.Slice(decayStart, decayLength))
            p *= shrink;
        for (int i = 0; i < parameters.Length; i++)
        {
            float g = gradient[i];
            M[i] = beta1 * M[i] + (1 - beta1) * g;
            V[i] = beta2 * V[i] + (1 - beta2) * g * g;
            double mHat = M[i] / c1, vHat = V[i] / c2;
            parameters[i] -= (float)(lr * mHat / (Math.Sqrt(vHat) + eps));
        }
    }

    public void Restore(ReadOnlySpan<float> m, ReadOnlySpan<float> v, int step)
    {
        m.CopyTo(M);
        v.CopyTo(V);
        Step = step;
    }
}
