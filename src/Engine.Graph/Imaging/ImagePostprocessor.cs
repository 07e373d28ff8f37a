using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph.Imaging;

/// <summary>VQGAN decoder output to pixels, as Chameleon's <c>_pil_from_chw_tensor</c>.</summary>
public static class ImagePostprocessor
{
    /// <summary>
    /// Clamp to [-1, 1], then <c>(x + 1) / 2 * 255</c> in float32 truncated to uint8. NaN (a broken decode) maps to 0
    /// rather than to whatever a platform's float-to-byte conversion would give.
    /// </summary>
    /// <param name="chw">[3, height, width] fp32, channels R, G, B.</param>
    public static RgbImage FromDecoderOutput(ReadOnlySpan<float> chw, int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive, got {width}x{height}");
        int plane = checked(width * height);
        if (chw.Length != 3L * plane)
            throw new ArgumentException($"decoder output for a {width}x{height} image needs {3L * plane} values "
                                        + $"([3,{height},{width}]), got {chw.Length}", nameof(chw));
        var image = new RgbImage(width, height);
        byte[] pixels = image.Pixels;
        for (int c = 0; c < 3; c++)
        {
            ReadOnlySpan<float> channel = chw.Slice(c * plane, plane);
            for (int p = 0; p < plane; p++)
                pixels[3 * p + c] = ToByte(channel[p]);
        }
        return image;
    }

    private static byte ToByte(float x)
    {
        if (float.IsNaN(x))
            return 0;
        float unit = (Math.Clamp(x, -1f, 1f) + 1f) / 2f;
        return (byte)(unit * 255f);
    }
}
