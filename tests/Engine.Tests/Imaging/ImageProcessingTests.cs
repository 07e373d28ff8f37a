using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Imaging;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

public class ImageProcessingTests
{
    /// <summary>R and G carry the pixel's x and y (mod 256), so a crop's position can be read back from its pixels.</summary>
    private static RgbImage Coordinates(int width, int height)
    {
        var image = new RgbImage(width, height);
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int o = (y * width + x) * 3;
            image.Pixels[o] = (byte)x;
            image.Pixels[o + 1] = (byte)y;
            image.Pixels[o + 2] = 77;
        }
        return image;
    }

    [TestCase(600, 512, 44, 0)]
    [TestCase(512, 530, 0, 9)]
    public void CenterCropTakesTheMiddle(int width, int height, int left, int top)
    {
        // One side equals the crop, so the scale is 1 and nothing is resampled: the crop starts at half the excess.
        RgbImage crop = ImagePreprocessor.FitToCrop(Coordinates(width, height), new CropSize(512, 512));
        Assert.That((crop.Width, crop.Height), Is.EqualTo((512, 512)));
        Assert.That(TestImages.Pixel(crop, 0, 0), Is.EqualTo(((byte)left, (byte)top, (byte)77)));
        Assert.That(TestImages.Pixel(crop, 511, 511), Is.EqualTo(((byte)(left + 511), (byte)(top + 511), (byte)77)));
    }

    [Test]
    public void RandomCropUsesTheSeededOffsets()
    {
        RgbImage crop = ImagePreprocessor.FitToCrop(Coordinates(600, 512), new CropSize(512, 512), new Random(42));
        var reference = new Random(42);
        int left = reference.Next(600 - 512 + 1), top = reference.Next(512 - 512 + 1);
        Assert.That(TestImages.Pixel(crop, 0, 0), Is.EqualTo(((byte)left, (byte)top, (byte)77)));
        RgbImage again = ImagePreprocessor.FitToCrop(Coordinates(600, 512), new CropSize(512, 512), new Random(42));
        Assert.That(again.Pixels, Is.EqualTo(crop.Pixels));
    }

    [Test]
    public void LargeImagesAreHalvedThenResizedToCoverTheCrop()
    {
        // 2100x1700 -> halve (both >= 2x) -> 1050x850 -> halve? no (850 < 1024) -> scale max(512/1050, 512/850)
        // -> round(1050 * 0.6024) = 632 x 512 -> center crop.
        RgbImage image = TestImages.Constant(2100, 1700, 10, 130, 250);
        RgbImage crop = ImagePreprocessor.FitToCrop(image, new CropSize(512, 512));
        Assert.That((crop.Width, crop.Height), Is.EqualTo((512, 512)));
        Assert.That(crop.Pixels, Is.EqualTo(TestImages.Constant(512, 512, 10, 130, 250).Pixels));
    }

    [Test]
    public void SmallImagesAreUpscaledToCoverTheCrop()
    {
        RgbImage crop = ImagePreprocessor.FitToCrop(TestImages.Gradient(100, 50), new CropSize(256, 256));
        Assert.That((crop.Width, crop.Height), Is.EqualTo((256, 256)));
    }

    [Test]
    public void PreprocessGivesChwInMinusOneToOne()
    {
        RgbImage image = TestImages.Random(900, 700, seed: 9);
        ModelInputImage input = ImagePreprocessor.Preprocess(image, 512);
        CropSize expected = CropSizes.BestFor(900, 700, CropSizes.ForTarget(512));
        Assert.That((input.Width, input.Height), Is.EqualTo((expected.Width, expected.Height)));
        Assert.That(input.Chw, Has.Length.EqualTo(3 * input.Width * input.Height));
        Assert.That(input.Chw.Min(), Is.GreaterThanOrEqualTo(-1f));
        Assert.That(input.Chw.Max(), Is.LessThanOrEqualTo(1f));
    }

    [Test]
    public void ModelInputIsChannelsFirstWithTheReferenceScaling()
    {
        var image = new RgbImage(2, 1, [0, 128, 255, 1, 2, 3]);
        ModelInputImage input = ImagePreprocessor.ToModelInput(image);
        float Level(int v) => (float)(v / 255.0 * 2 - 1);
        Assert.That(input.Chw, Is.EqualTo(new[] { -1f, Level(1), Level(128), Level(2), 1f, Level(3) }));
    }

    [Test]
    public void PostprocessClampsScalesAndTruncates()
    {
        // One pixel per value; R carries the value under test, G and B fixed.
        float[] values = [-1f, 1f, 0f, 2f, -3f, 0.999f, float.NaN, -0.5f];
        int n = values.Length;
        var chw = new float[3 * n];
        values.CopyTo(chw, 0);
        chw.AsSpan(n, n).Fill(1f);
        chw.AsSpan(2 * n, n).Fill(-1f);
        RgbImage image = ImagePostprocessor.FromDecoderOutput(chw, n, 1);
        byte[] red = Enumerable.Range(0, n).Select(i => image.Pixels[3 * i]).ToArray();
        Assert.That(red, Is.EqualTo(new byte[] { 0, 255, 127, 255, 0, 254, 0, 63 }));
        Assert.That(Enumerable.Range(0, n).All(i => image.Pixels[3 * i + 1] == 255 && image.Pixels[3 * i + 2] == 0));
    }

    [Test]
    public void PostprocessChecksTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() => ImagePostprocessor.FromDecoderOutput(new float[11], 2, 2));
        Assert.That(e!.Message, Does.Contain("[3,2,2]"));
    }
}
