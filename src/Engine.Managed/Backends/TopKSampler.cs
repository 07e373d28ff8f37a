using System.Runtime.CompilerServices;

namespace CoAR.Engine.Managed.Backends;

/// <summary>The reference top-k draw every backend's sampling must reproduce (see IBackend.SampleTopK).</summary>
public static class TopKSampler
{
    /// <param name="logits">One row of logits; -inf marks forbidden ids.</param>
    /// <param name="k">How many of the largest to keep (ties with the k-th kept); k &lt;= 0 or k &gt;= row length keeps all.</param>
    /// <param name="u">A uniform draw in [0, 1).</param>
    /// <param name="scratch">At least logits.Length floats.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // once per image per step over the whole vocabulary
    public static int Sample(ReadOnlySpan<float> logits, int k, float temperature, float u, Span<float> scratch)
    {
        float threshold = KthLargest(logits, k, scratch);
        float max = float.NegativeInfinity;
        foreach (float x in logits)
            if (x > max) max = x;
        if (float.IsNegativeInfinity(max) || float.IsNaN(max))
            throw new NonFiniteLogitsException();
        // Weights in id order, so the cumulative sum (and so the draw) is the same on every backend.
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float x = logits[i];
            float w = x >= threshold && !float.IsNegativeInfinity(x) ? MathF.Exp((x - max) / temperature) : 0f;
            scratch[i] = w;
            total += w;
        }
        double target = u * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < logits.Length; i++)
        {
            if (scratch[i] == 0f) continue;
            cumulative += scratch[i];
            last = i;
            if (cumulative > target) return i;
        }
        return last; // u * total rounded up to the full sum: the last candidate
    }

    /// <summary>The k-th largest value (1-based) of the row, or -inf when k keeps everything.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float KthLargest(ReadOnlySpan<float> logits, int k, Span<float> scratch)
    {
        if (k <= 0 || k >= logits.Length) return float.NegativeInfinity;
        // -inf (what the layout constraint leaves outside the image codes: most of the row) sorts below every other
        // value but NaN, so the selection runs over the rest; a row with NaN takes the full copy, where NaN's order holds.
        int count = 0;
        bool nan = false;
        foreach (float x in logits)
        {
            if (float.IsNegativeInfinity(x)) continue;
            scratch[count++] = x;
            nan |= float.IsNaN(x);
        }
        if (!nan) return k > count ? float.NegativeInfinity : Select(scratch[..count], k - 1);
        logits.CopyTo(scratch);
        return Select(scratch[..logits.Length], k - 1);
    }

    /// <summary>
    /// Hoare quickselect: the element that would sit at index <paramref name="index"/> of a descending sort, in
    /// expected O(n) (a full sort of 65536 logits per draw would dominate a small model's decode step). Reorders values.
    /// NaN is treated as smaller than everything.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Select(Span<float> values, int index)
    {
        int lo = 0, hi = values.Length - 1;
        while (lo < hi)
        {
            float pivot = Median(values[lo], values[lo + (hi - lo) / 2], values[hi]);
            int i = lo, j = hi;
            while (i <= j)
            {
                while (Greater(values[i], pivot)) i++;
                while (Greater(pivot, values[j])) j--;
                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }
            if (index <= j) hi = j;
            else if (index >= i) lo = i;
            else return values[index];
        }
        return values[index];
    }

    private static bool Greater(float a, float b) => a > b || (!float.IsNaN(a) && float.IsNaN(b));

    private static float Median(float a, float b, float c)
    {
        if (Greater(a, b)) (a, b) = (b, a);
        if (Greater(b, c)) (b, c) = (c, b);
        if (Greater(a, b)) (a, b) = (b, a);
        return b;
    }
}
