namespace CoAR.Engine.Graph.Training;

/// <summary>Gradient-norm clipping over all trained parameters together, as torch.nn.utils.clip_grad_norm_ does.</summary>
public static class GradientClip
{
    /// <summary>Scales <paramref name="gradient"/> by maxNorm / (norm + 1e-6) when its L2 norm exceeds <paramref name="maxNorm"/> (0: never); returns the norm before.</summary>
    public static double Apply(Span<float> gradient, float maxNorm)
    {
        double sum = 0;
        foreach (float v in gradient) sum += (double)v * v;
        double norm = Math.Sqrt(sum);
        if (maxNorm > 0 && norm > maxNorm)
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            foreach (ref float v in gradient) v *= scale;
        }
        return norm;
    }
}
