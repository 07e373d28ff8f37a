using CoAR.Engine.Managed.Imaging;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

public class ImageResizeTests
{
    [TestCase(40, 30, 97, 61)]
    [TestCase(40, 30, 13, 9)]
    [TestCase(7, 5, 7, 5)]
    public void AConstantImageStaysConstant(int width, int height, int toWidth, int toHeight)
    {
        RgbImage image = TestImages.Constant(width, height, 12, 200, 255);
        foreach (RgbImage resized in new[] { ImageResize.Bicubic(image, toWidth, toHeight), ImageResize.Box(image, toWidth, toHeight) })
        {
            Assert.That((resized.Width, resized.Height), Is.EqualTo((toWidth, toHeight)));
            Assert.That(resized.Pixels, Is.EqualTo(TestImages.Constant(toWidth, toHeight, 12, 200, 255).Pixels));
        }
    }

    [Test]
    public void BoxHalvingAveragesEachTwoByTwoBlock()
    {
        // Blocks [a, a+2; a+4, a+6] (a different a per block and channel) average to exactly a+3.
        const int width = 10, height = 6;
        var image = new RgbImage(width, height);
        var random = new Random(8);
        var expected = new RgbImage(width / 2, height / 2);
        for (int by = 0; by < height / 2; by++)
        for (int bx = 0; bx < width / 2; bx++)
        for (int c = 0; c < 3; c++)
        {
            int a = random.Next(0, 249);
            int[] block = [a, a + 2, a + 4, a + 6];
            for (int i = 0; i < 4; i++)
                image.Pixels[((2 * by + i / 2) * width + 2 * bx + i % 2) * 3 + c] = (byte)block[i];
            expected.Pixels[(by * (width / 2) + bx) * 3 + c] = (byte)(a + 3);
        }
        Assert.That(ImageResize.Box(image, width / 2, height / 2).Pixels, Is.EqualTo(expected.Pixels));
    }

    [Test]
    public void BicubicShrinkFiltersOutACheckerboard()
    {
        // Without the filter widening that downscaling needs, a 4x shrink would alias to black or white.
        var image = new RgbImage(64, 64);
        for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            image.Pixels.AsSpan((y * 64 + x) * 3, 3).Fill((byte)((x + y) % 2 == 0 ? 255 : 0));
        RgbImage small = ImageResize.Bicubic(image, 16, 16);
        Assert.That(small.Pixels.Min(), Is.GreaterThanOrEqualTo(117));
        Assert.That(small.Pixels.Max(), Is.LessThanOrEqualTo(138));
    }

    [Test]
    public void BicubicUpscaleInterpolatesARamp()
    {
        // Catmull-Rom reproduces linear functions: away from the clamped edges a 2x upscale of a ramp stays a ramp.
        var image = new RgbImage(16, 4);
        for (int y = 0; y < 4; y++)
        for (int x = 0; x < 16; x++)
            image.Pixels.AsSpan((y * 16 + x) * 3, 3).Fill((byte)(x * 16));
        RgbImage big = ImageResize.Bicubic(image, 32, 8);
        for (int x = 4; x < 28; x++)
        {
            double source = (x + 0.5) / 2 - 0.5; // output pixel centre in input coordinates
            Assert.That(TestImages.Pixel(big, x, 3).R, Is.EqualTo(source * 16).Within(1.0), $"x = {x}");
        }
    }
}
