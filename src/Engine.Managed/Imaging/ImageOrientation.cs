using SkiaSharp;

namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// Turns decoded pixels upright by the EXIF orientation the codec read (phone photos are stored sideways with a tag
/// saying so). Lossless: only whole pixels move.
/// </summary>
internal static class ImageOrientation
{
    public static RgbImage Apply(RgbImage image, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default)
            return image;
        bool transposed = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int w = image.Width, h = image.Height;
        int outW = transposed ? h : w, outH = transposed ? w : h;
        var result = new RgbImage(outW, outH);
        byte[] src = image.Pixels, dst = result.Pixels;
        for (int y = 0; y < outH; y++)
        for (int x = 0; x < outW; x++)
        {
            // (x, y) in the upright image comes from (sx, sy) in the stored one.
            var (sx, sy) = origin switch
            {
                SKEncodedOrigin.TopRight => (w - 1 - x, y),
                SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                SKEncodedOrigin.LeftTop => (y, x),
                SKEncodedOrigin.RightTop => (y, h - 1 - x),
                SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
                SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
                _ => (x, y),
            };
            int s = (sy * w + sx) * 3, d = (y * outW + x) * 3;
            dst[d] = src[s];
            dst[d + 1] = src[s + 1];
            dst[d + 2] = src[s + 2];
        }
        return result;
    }
}
