namespace CoAR.Engine.Graph.Text;

/// <summary>
/// The image sizes a Lumina-mGPT checkpoint generates: multiples of 32 pixels, at most (T/32)^2 cells of 32x32 for
/// target size T (512, 768 or 1024), aspect ratio at most 4.
/// </summary>
public static class LuminaImageSizes
{
    public const int CellPixels = 32;
    public const int MaxAspectRatio = 4;

    /// <summary>Throws <see cref="ArgumentException"/> saying what is wrong unless width x height is valid for the target.</summary>
    public static void Validate(int width, int height, int targetSize)
    {
        ValidateTarget(targetSize);
        if (width <= 0 || height <= 0 || width % CellPixels != 0 || height % CellPixels != 0)
            throw new ArgumentException($"Image size {width}x{height}: width and height must be positive multiples of {CellPixels} pixels.");
        if (Math.Max(width, height) > MaxAspectRatio * Math.Min(width, height))
            throw new ArgumentException($"Image size {width}x{height}: the aspect ratio must be at most {MaxAspectRatio}:1.");
        long cells = (long)(width / CellPixels) * (height / CellPixels), maxCells = MaxCells(targetSize);
        if (cells > maxCells)
            throw new ArgumentException(
                $"Image size {width}x{height}: {cells} cells of {CellPixels}x{CellPixels} pixels exceed the {maxCells} of the {targetSize} target ({targetSize}x{targetSize}).");
    }

    /// <summary>
    /// The crop sizes the reference trains and samples with for a target (its generate_crop_size_list): walking from
    /// the widest grid down, each width with the heights up to the cell budget, keeping aspect ratios up to 4.
    /// </summary>
    public static IReadOnlyList<ImageSize> Allowed(int targetSize)
    {
        ValidateTarget(targetSize);
        int budget = MaxCells(targetSize);
        var sizes = new List<ImageSize>();
        int wide = budget, high = 1;
        while (wide > 0)
        {
            if (Math.Max(wide, high) <= MaxAspectRatio * Math.Min(wide, high))
                sizes.Add(new ImageSize(wide * CellPixels, high * CellPixels));
            if ((high + 1) * wide <= budget)
                high++;
            else
                wide--;
        }
        return sizes;
    }

    private static int MaxCells(int targetSize) => (targetSize / CellPixels) * (targetSize / CellPixels);

    private static void ValidateTarget(int targetSize)
    {
        if (targetSize <= 0 || targetSize % CellPixels != 0)
            throw new ArgumentException($"Target size {targetSize} must be a positive multiple of {CellPixels} (512, 768 or 1024 for the released checkpoints).");
    }
}
