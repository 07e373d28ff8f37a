namespace CoAR.Engine.Graph.Imaging;

/// <summary>
/// The sizes an image may take for a target resolution T (512, 768, 1024), and the choice among them, following
/// Lumina-mGPT's <c>generate_crop_size_list</c> and <c>var_center_crop</c> (data/item_processor.py).
/// </summary>
public static class CropSizes
{
    /// <summary>Pixels per grid cell: one size token counts 32 px (two 16 px VQGAN latents).</summary>
    public const int PatchSize = 32;

    public const double MaxAspectRatio = 4.0;

    /// <summary>
    /// Every (w, h) in 32 px cells with w*h &lt;= (T/32)^2 that is maximal along the area bound and has aspect &lt;= 4,
    /// in Lumina's order (widest first). For T = 768: 1536x384, ..., 768x768, ..., 384x1536.
    /// </summary>
    public static IReadOnlyList<CropSize> ForTarget(int targetSize)
    {
        if (targetSize < PatchSize || targetSize % PatchSize != 0)
            throw new ArgumentOutOfRangeException(nameof(targetSize), targetSize,
                $"the target size must be a positive multiple of {PatchSize}");
        int cells = targetSize / PatchSize;
        return Generate(cells * cells, PatchSize, MaxAspectRatio);
    }

    /// <summary>
    /// Lumina's walk along the boundary of w*h &lt;= numPatches: from (numPatches, 1), grow h while the area allows,
    /// otherwise shrink w; keep the sizes whose aspect is within <paramref name="maxRatio"/>.
    /// </summary>
    public static IReadOnlyList<CropSize> Generate(int numPatches, int patchSize, double maxRatio)
    {
        if (numPatches <= 0 || patchSize <= 0 || maxRatio < 1.0)
            throw new ArgumentOutOfRangeException(nameof(numPatches),
                $"need numPatches > 0, patchSize > 0, maxRatio >= 1 (got {numPatches}, {patchSize}, {maxRatio})");
        var sizes = new List<CropSize>();
        int wp = numPatches, hp = 1;
        while (wp > 0)
        {
            if ((double)Math.Max(wp, hp) / Math.Min(wp, hp) <= maxRatio)
                sizes.Add(new CropSize(wp * patchSize, hp * patchSize));
            if ((long)(hp + 1) * wp <= numPatches)
                hp++;
            else
                wp--;
        }
        return sizes;
    }

    /// <summary>
    /// The size keeping the largest fraction of the image after scaling to cover it:
    /// <c>min(cw/w, ch/h) / max(cw/w, ch/h)</c>, the highest wins; ties go to the larger (cw, ch), as Lumina's
    /// descending sort of (fraction, (cw, ch)) tuples does.
    /// </summary>
    public static CropSize BestFor(int width, int height, IReadOnlyList<CropSize> sizes)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive, got {width}x{height}");
        if (sizes.Count == 0)
            throw new ArgumentException("the list of crop sizes is empty", nameof(sizes));
        CropSize best = sizes[0];
        double bestKept = KeptFraction(best, width, height);
        for (int i = 1; i < sizes.Count; i++)
        {
            double kept = KeptFraction(sizes[i], width, height);
            if (kept > bestKept || (kept == bestKept && IsLarger(sizes[i], best)))
            {
                best = sizes[i];
                bestKept = kept;
            }
        }
        return best;
    }

    private static double KeptFraction(CropSize size, int width, int height)
    {
        double sx = (double)size.Width / width, sy = (double)size.Height / height;
        return Math.Min(sx, sy) / Math.Max(sx, sy);
    }

    private static bool IsLarger(CropSize a, CropSize b) => a.Width != b.Width ? a.Width > b.Width : a.Height > b.Height;
}
