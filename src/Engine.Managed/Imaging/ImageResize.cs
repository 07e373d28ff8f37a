using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// Resampling through stb_image_resize (v1), in linear space (no sRGB conversion), edges clamped.
/// <para>
/// <see cref="Bicubic"/> uses stb's Catmull-Rom filter, which is the same kernel as PIL's BICUBIC (Keys' cubic with
/// a = -0.5), widened by the scale factor when shrinking, as PIL does. Results can still differ from PIL by about one
/// level: PIL rounds to 8 bits between its horizontal and vertical passes and renormalises the taps that fall outside
/// the image, whereas stb keeps the intermediate in float and clamps (repeats) edge pixels.
/// </para>
/// </summary>
public static unsafe class ImageResize
{
    public static RgbImage Bicubic(RgbImage source, int width, int height) =>
        Resize(source, width, height, StbImageResize.FilterCatmullRom);

    /// <summary>
    /// Box filter (stb's trapezoid, a plain box average for integer ratios): an exact 2x2 average when halving even sizes.
    /// </summary>
    public static RgbImage Box(RgbImage source, int width, int height) =>
        Resize(source, width, height, StbImageResize.FilterBox);

    private static RgbImage Resize(RgbImage source, int width, int height, int filter)
    {
        ArgumentNullException.ThrowIfNull(source);
        var result = new RgbImage(width, height);
        StbLibrary.EnsureLoaded();
        fixed (byte* input = source.Pixels)
        fixed (byte* output = result.Pixels)
        {
            int ok = StbImageResize.ResizeUint8Generic(input, source.Width, source.Height, source.RowBytes,
                output, width, height, result.RowBytes, 3, StbImageResize.AlphaChannelNone, 0,
                StbImageResize.EdgeClamp, filter, StbImageResize.ColorspaceLinear, null);
            if (ok == 0)
                throw new InvalidOperationException(
                    $"stb could not resize a {source.Width}x{source.Height} image to {width}x{height}");
        }
        return result;
    }
}
