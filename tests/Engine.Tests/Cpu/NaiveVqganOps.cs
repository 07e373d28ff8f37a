namespace CoAR.Engine.Tests.Cpu;

/// <summary>Straight-line float64 versions of the image tokenizer ops (NCHW layouts), the VQGAN op tests' reference.</summary>
internal static class NaiveVqganOps
{
    /// <summary>Zero-padded convolution; returns y [N, Cout, Ho, Wo] and its spatial size.</summary>
    public static (double[] Y, int Ho, int Wo) Conv2d(double[] x, double[] w, double[]? bias, int n, int cin, int h, int wd,
        int cout, int kh, int kw, int stride, int padTop, int padLeft, int padBottom, int padRight)
    {
        int ho = (h + padTop + padBottom - kh) / stride + 1, wo = (wd + padLeft + padRight - kw) / stride + 1;
        var y = new double[n * cout * ho * wo];
        for (int s = 0; s < n; s++)
            for (int co = 0; co < cout; co++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                    {
                        double sum = bias?[co] ?? 0;
                        for (int ci = 0; ci < cin; ci++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * stride + ky - padTop, ix = ox * stride + kx - padLeft;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    sum += x[((s * cin + ci) * h + iy) * wd + ix] * w[((co * cin + ci) * kh + ky) * kw + kx];
                                }
                        y[((s * cout + co) * ho + oy) * wo + ox] = sum;
                    }
        return (y, ho, wo);
    }

    public static double[] GroupNorm(double[] x, double[] gamma, double[] beta, int n, int c, int hw, int groups, double eps, bool swish)
    {
        var y = new double[x.Length];
        int perGroup = c / groups;
        for (int s = 0; s < n; s++)
            for (int g = 0; g < groups; g++)
            {
                int start = (s * c + g * perGroup) * hw, count = perGroup * hw;
                double mean = 0, var = 0;
                for (int i = 0; i < count; i++) mean += x[start + i];
                mean /= count;
                for (int i = 0; i < count; i++) var += (x[start + i] - mean) * (x[start + i] - mean);
                var /= count;
                for (int i = 0; i < count; i++)
                {
                    int ch = g * perGroup + i / hw;
                    double v = (x[start + i] - mean) / Math.Sqrt(var + eps) * gamma[ch] + beta[ch];
                    y[start + i] = swish ? v / (1 + Math.Exp(-v)) : v;
                }
            }
        return y;
    }

    public static double[] Upsample2x(double[] x, int n, int c, int h, int w)
    {
        var y = new double[x.Length * 4];
        for (int plane = 0; plane < n * c; plane++)
            for (int oy = 0; oy < 2 * h; oy++)
                for (int ox = 0; ox < 2 * w; ox++)
                    y[(plane * 2 * h + oy) * 2 * w + ox] = x[(plane * h + oy / 2) * w + ox / 2];
        return y;
    }

    /// <summary>Single-head attention over the P positions of each sample of q, k, v [N, C, P].</summary>
    public static double[] SpatialAttention(double[] q, double[] k, double[] v, int n, int c, int p)
    {
        var y = new double[q.Length];
        var scores = new double[p];
        for (int s = 0; s < n; s++)
        {
            int b = s * c * p;
            for (int i = 0; i < p; i++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int j = 0; j < p; j++)
                {
                    double dot = 0;
                    for (int ch = 0; ch < c; ch++) dot += q[b + ch * p + i] * k[b + ch * p + j];
                    scores[j] = dot / Math.Sqrt(c);
                    max = Math.Max(max, scores[j]);
                }
                for (int j = 0; j < p; j++) sum += scores[j] = Math.Exp(scores[j] - max);
                for (int ch = 0; ch < c; ch++)
                {
                    double o = 0;
                    for (int j = 0; j < p; j++) o += scores[j] / sum * v[b + ch * p + j];
                    y[b + ch * p + i] = o;
                }
            }
        }
        return y;
    }

    /// <summary>Exact squared distances; the smallest index wins ties. z [N, C, P], codebook [E, C], codes [N, P].</summary>
    public static int[] CodebookArgmin(double[] z, double[] codebook, int n, int c, int p, int entries)
    {
        var codes = new int[n * p];
        for (int s = 0; s < n; s++)
            for (int i = 0; i < p; i++)
            {
                double best = double.PositiveInfinity;
                for (int e = 0; e < entries; e++)
                {
                    double d = 0;
                    for (int ch = 0; ch < c; ch++)
                    {
                        double diff = z[(s * c + ch) * p + i] - codebook[e * c + ch];
                        d += diff * diff;
                    }
                    if (d < best)
                    {
                        best = d;
                        codes[s * p + i] = e;
                    }
                }
            }
        return codes;
    }
}
