using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Tests.Imaging;

internal static class TestImages
{
    internal static RgbImage Random(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new RgbImage(width, height, pixels);
    }

    internal static RgbImage Constant(int width, int height, byte r, byte g, byte b)
    {
        var image = new RgbImage(width, height);
        for (int i = 0; i < image.Pixels.Length; i += 3)
        {
            image.Pixels[i] = r;
            image.Pixels[i + 1] = g;
            image.Pixels[i + 2] = b;
        }
        return image;
    }

    /// <summary>A smooth image (JPEG keeps it close): R follows x, G follows y, B their mix.</summary>
    internal static RgbImage Gradient(int width, int height)
    {
        var image = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int o = (y * width + x) * 3;
            image.Pixels[o] = (byte)(x * 255 / (width - 1));
            image.Pixels[o + 1] = (byte)(y * 255 / (height - 1));
            image.Pixels[o + 2] = (byte)((x + y) * 255 / (width + height - 2));
        }
        return image;
    }

    internal static (byte R, byte G, byte B) Pixel(RgbImage image, int x, int y)
    {
        int o = (y * image.Width + x) * 3;
        return (image.Pixels[o], image.Pixels[o + 1], image.Pixels[o + 2]);
    }
}
