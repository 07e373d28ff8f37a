namespace CoAR.Engine.Tests.Cpu;

/// <summary>Straight-line float64 versions of every CPU op: slow and obviously right, the tests' reference.</summary>
internal static class NaiveOps
{
    public static double[] MatMul(double[] x, double[] w, int m, int k, int n)
    {
        var y = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
                y[i * n + j] = s;
            }
        return y;
    }

    public static double[] RmsNorm(double[] x, double[] w, int t, int d, double eps)
    {
        var y = new double[t * d];
        for (int i = 0; i < t; i++)
        {
            double ss = 0;
            for (int j = 0; j < d; j++) ss += x[i * d + j] * x[i * d + j];
            double r = 1 / Math.Sqrt(ss / d + eps);
            for (int j = 0; j < d; j++) y[i * d + j] = x[i * d + j] * r * w[j];
        }
        return y;
    }

    public static double[] HeadLayerNorm(double[] x, double[] gamma, double[] beta, int t, int h, int dh, int groups, double eps)
    {
        var y = new double[x.Length];
        for (int i = 0; i < t; i++)
            for (int hh = 0; hh < h; hh++)
            {
                int o = (i * h + hh) * dh, g = hh / (h / groups);
                double mean = 0, var = 0;
                for (int j = 0; j < dh; j++) mean += x[o + j];
                mean /= dh;
                for (int j = 0; j < dh; j++) var += (x[o + j] - mean) * (x[o + j] - mean);
                var /= dh;
                for (int j = 0; j < dh; j++)
                    y[o + j] = (x[o + j] - mean) / Math.Sqrt(var + eps) * gamma[g * dh + j] + beta[g * dh + j];
            }
        return y;
    }

    public static double[] Rope(double[] x, int[] pos, int t, int h, int dh, double theta)
    {
        var y = new double[x.Length];
        int half = dh / 2;
        for (int i = 0; i < t; i++)
            for (int hh = 0; hh < h; hh++)
                for (int j = 0; j < half; j++)
                {
                    double angle = pos[i] * Math.Pow(theta, -2.0 * j / dh);
                    int o = (i * h + hh) * dh;
                    double a = x[o + j], b = x[o + j + half];
                    y[o + j] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    y[o + j + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
        return y;
    }

    public static bool Visible(int queryTag, int keyTag) => queryTag == 0 || keyTag == 0 || queryTag == keyTag;

    /// <summary>Attention of q [T,H,Dh] over per-row key/value sequences k, v [R][S][Hkv][Dh] with key tags [R][S].</summary>
    public static (double[] Output, double[] Lse) Attention(
        double[] q, int t, int h, int dh, double[][] keys, double[][] values, int[][] keyTags, int hkv,
        int[] rows, int[] pos, int[] tags, double scale)
    {
        var output = new double[t * h * dh];
        var lse = new double[t * h];
        for (int i = 0; i < t; i++)
            for (int hh = 0; hh < h; hh++)
            {
                int kvh = hh / (h / hkv), r = rows[i];
                var scores = new double[pos[i] + 1];
                double max = double.NegativeInfinity;
                for (int j = 0; j <= pos[i]; j++)
                {
                    if (!Visible(tags[i], keyTags[r][j])) { scores[j] = double.NegativeInfinity; continue; }
                    double s = 0;
                    for (int e = 0; e < dh; e++) s += q[(i * h + hh) * dh + e] * keys[r][(j * hkv + kvh) * dh + e];
                    scores[j] = s * scale;
                    max = Math.Max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < scores.Length; j++) sum += double.IsNegativeInfinity(scores[j]) ? 0 : Math.Exp(scores[j] - max);
                for (int j = 0; j < scores.Length; j++)
                {
                    if (double.IsNegativeInfinity(scores[j])) continue;
                    double p = Math.Exp(scores[j] - max) / sum;
                    for (int e = 0; e < dh; e++) output[(i * h + hh) * dh + e] += p * values[r][(j * hkv + kvh) * dh + e];
                }
                lse[i * h + hh] = max + Math.Log(sum);
            }
        return (output, lse);
    }

    public static double Silu(double x) => x / (1 + Math.Exp(-x));
}
