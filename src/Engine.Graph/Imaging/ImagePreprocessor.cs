using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Imaging;

/// <summary>
/// Training and reference images into VQGAN input, as Lumina-mGPT's <c>var_center_crop</c> plus Chameleon's
/// image tokenizer do (spec section 8): pick the crop size, halve with a box filter while both sides are at least
/// twice the crop, resize bicubic to cover the crop, crop, map pixels to [-1, 1] channels first.
/// (Alpha is already composited on white by <see cref="ImageFile"/>.)
/// </summary>
public static class ImagePreprocessor
{
    /// <summary>Everything for a target resolution: best crop size from <see cref="CropSizes.ForTarget"/>, then fit and convert.</summary>
    /// <param name="randomOffset">Null for a center crop; a seeded generator for the reference's random crop offset.</param>
    public static ModelInputImage Preprocess(RgbImage image, int targetSize, Random? randomOffset = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        CropSize crop = CropSizes.BestFor(image.Width, image.Height, CropSizes.ForTarget(targetSize));
        return ToModelInput(FitToCrop(image, crop, randomOffset));
    }

    /// <summary>Shrink and crop <paramref name="image"/> to exactly <paramref name="crop"/>.</summary>
    public static RgbImage FitToCrop(RgbImage image, CropSize crop, Random? randomOffset = null)
    {
        image = Cover(image, crop);
        int left, top;
        if (randomOffset is null)
        {
            left = (image.Width - crop.Width) / 2;
            top = (image.Height - crop.Height) / 2;
        }
        else
        {
            left = randomOffset.Next(image.Width - crop.Width + 1);
            top = randomOffset.Next(image.Height - crop.Height + 1);
        }
        return image.Crop(left, top, crop.Width, crop.Height);
    }

    /// <summary>
    /// The image scaled to just cover <paramref name="crop"/> (halved with a box filter while both sides are at least
    /// twice the crop, then bicubic): what every crop of the image is cut from.
    /// </summary>
    public static RgbImage Cover(RgbImage image, CropSize crop)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (crop.Width <= 0 || crop.Height <= 0)
            throw new ArgumentOutOfRangeException(nameof(crop), crop, "crop size must be positive");

        while (image.Width >= 2 * crop.Width && image.Height >= 2 * crop.Height)
            image = ImageResize.Box(image, image.Width / 2, image.Height / 2);

        double scale = Math.Max((double)crop.Width / image.Width, (double)crop.Height / image.Height);
        // Python's round() (half to even) as in the reference; never below the crop, which a rounding slip could cause.
        int width = Math.Max(crop.Width, (int)Math.Round(image.Width * scale, MidpointRounding.ToEven));
        int height = Math.Max(crop.Height, (int)Math.Round(image.Height * scale, MidpointRounding.ToEven));
        if (width != image.Width || height != image.Height)
            image = ImageResize.Bicubic(image, width, height);
        return image;
    }

    /// <summary>
    /// <c>pixel / 255 * 2 - 1</c> computed in float64 and stored as float32, as the reference's numpy code does;
    /// HWC interleaved bytes become CHW planes.
    /// </summary>
    public static ModelInputImage ToModelInput(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        Span<float> levels = stackalloc float[256];
        for (int v = 0; v < 256; v++)
            levels[v] = (float)(v / 255.0 * 2 - 1);

        int plane = image.Width * image.Height;
        var chw = new float[3 * plane];
        byte[] pixels = image.Pixels;
        for (int p = 0; p < plane; p++)
        {
            chw[p] = levels[pixels[3 * p]];
            chw[plane + p] = levels[pixels[3 * p + 1]];
            chw[2 * plane + p] = levels[pixels[3 * p + 2]];
        }
        return new ModelInputImage(image.Width, image.Height, chw);
    }
}
