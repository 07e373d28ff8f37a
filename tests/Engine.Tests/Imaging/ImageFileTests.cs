using CoAR.Engine.Managed.Imaging;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Imaging;

public class ImageFileTests
{
    [Test]
    public void PngRoundTripIsExact()
    {
        RgbImage image = TestImages.Random(37, 23, seed: 1);
        RgbImage decoded = ImageFile.Decode(ImageFile.EncodePng(image), "round trip");
        Assert.That(decoded.Width, Is.EqualTo(37));
        Assert.That(decoded.Height, Is.EqualTo(23));
        Assert.That(decoded.Pixels, Is.EqualTo(image.Pixels));
    }

    [Test]
    public void SavePngWritesTheFileAtomicallyAndLoadReadsItBack()
    {
        string dir = Directory.CreateTempSubdirectory("coar-png-").FullName;
        try
        {
            string path = Path.Combine(dir, "out.png");
            RgbImage image = TestImages.Random(16, 9, seed: 2);
            ImageFile.SavePng(image, path);
            ImageFile.SavePng(image, path); // overwriting works too
            Assert.That(ImageFile.Load(path).Pixels, Is.EqualTo(image.Pixels));
            Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EqualTo(new[] { "out.png" }));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase(false)]
    [TestCase(true)]
    public void BmpDecodesExactlyBottomUpAndTopDown(bool topDown)
    {
        RgbImage image = TestImages.Random(13, 7, seed: 3);
        Assert.That(ImageFile.Decode(TestEncoders.Bmp(image, topDown), "fixture.bmp").Pixels, Is.EqualTo(image.Pixels));
    }

    [Test]
    public void JpegDecodesCloseToTheOriginal()
    {
        RgbImage image = TestImages.Gradient(64, 48);
        byte[] jpeg = TestEncoders.Jpeg(image, quality: 95);
        Assert.That(jpeg[..2], Is.EqualTo(new byte[] { 0xFF, 0xD8 }));
        RgbImage decoded = ImageFile.Decode(jpeg, "fixture.jpg");
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((64, 48)));
        double meanError = image.Pixels.Zip(decoded.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.That(meanError, Is.LessThan(3.0));
    }

    [Test]
    public void CmykJpegBecomesRgb()
    {
        // fixtures/make_fixtures.py: Pillow's Adobe-inverted CMYK, left half C0 M255 Y255 K0 (red), right half K 50%.
        RgbImage decoded = ImageFile.Load(Fixture("cmyk.jpg"));
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((16, 8)));
        var (r, g, b) = TestImages.Pixel(decoded, 2, 4);
        Assert.That((int)r, Is.GreaterThan(240));
        Assert.That((int)g, Is.LessThan(20));
        Assert.That((int)b, Is.LessThan(20));
        var grey = TestImages.Pixel(decoded, 13, 4);
        Assert.That((int)grey.R, Is.InRange(110, 145));
        Assert.That(Math.Abs(grey.R - grey.B), Is.LessThan(8));
    }

    [Test]
    public void ExifOrientationTurnsTheImageUpright()
    {
        // Stored 16x8 (left red, right blue) with orientation 6: upright it is 8x16, red on top, blue below.
        RgbImage decoded = ImageFile.Load(Fixture("orientation6.jpg"));
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((8, 16)));
        Assert.That(TestImages.Pixel(decoded, 4, 2).R, Is.GreaterThan(200));
        Assert.That(TestImages.Pixel(decoded, 4, 2).B, Is.LessThan(50));
        Assert.That(TestImages.Pixel(decoded, 4, 13).B, Is.GreaterThan(200));
        Assert.That(TestImages.Pixel(decoded, 4, 13).R, Is.LessThan(50));
    }

    [Test]
    public void AnEmbeddedColourProfileIsConvertedToSrgb()
    {
        // sRGB's pure red written as Display P3 values, with the P3 profile embedded: decoding gives sRGB red back.
        var p3 = SkiaSharp.SKColorSpace.CreateRgb(SkiaSharp.SKColorSpaceTransferFn.Srgb, SkiaSharp.SKColorSpaceXyz.DisplayP3);
        byte[] png = TestEncoders.PngIn(TestImages.Constant(4, 4, 234, 51, 35), p3);
        var (r, g, b) = TestImages.Pixel(ImageFile.Decode(png, "p3.png"), 1, 1);
        Assert.That((int)r, Is.GreaterThanOrEqualTo(250));
        Assert.That((int)g, Is.LessThanOrEqualTo(8));
        Assert.That((int)b, Is.LessThanOrEqualTo(8));
    }

    [Test]
    public void SixteenBitPngIsScaledToEightBits()
    {
        // RGB, 16 bits a channel, big-endian: 0x1234 -> 0x12, 0xFFFF -> 255, 0x8080 -> 128.
        byte[] row = [0x12, 0x34, 0xFF, 0xFF, 0x80, 0x80, 0x00, 0x00, 0x00, 0x01, 0xFF, 0x00];
        RgbImage decoded = ImageFile.Decode(TestEncoders.Png(2, 1, colorType: 2, bitDepth: 16, row), "deep.png");
        Assert.That(decoded.Pixels, Is.EqualTo(new byte[] { 0x12, 255, 128, 0, 0, 254 }).Within(1));
    }

    [Test]
    public void PalettePngWithTransparencyIsCompositedOnWhite()
    {
        byte[] palette = [255, 0, 0, 0, 0, 255, 10, 20, 30];
        byte[] alpha = [255, 0, 128];
        RgbImage decoded = ImageFile.Decode(TestEncoders.Png(3, 1, colorType: 3, bitDepth: 8, [0, 1, 2], palette, alpha), "p.png");
        byte third0 = AlphaComposite.Blend(128, 10), third1 = AlphaComposite.Blend(128, 20), third2 = AlphaComposite.Blend(128, 30);
        Assert.That(decoded.Pixels, Is.EqualTo(new byte[] { 255, 0, 0, 255, 255, 255, third0, third1, third2 }));
    }

    [Test]
    public void AnUnsupportedFormatIsAClearErrorNotACrash()
    {
        // A 16-bit PNM crashed stb_image; a Radiance HDR hung it.
        var pgm = Assert.Throws<InvalidDataException>(() => ImageFile.Load(Fixture("grey16.pgm")));
        Assert.That(pgm!.Message, Does.Contain("grey16.pgm").And.Contain("not a readable"));
        byte[] hdr = System.Text.Encoding.ASCII.GetBytes("#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 100000 +X 100000\n");
        Assert.Throws<InvalidDataException>(() => ImageFile.Decode(hdr, "sky.hdr"));
    }

    [Test]
    public void AnExtremeAspectRatioIsRefusedBeforeDecoding()
    {
        byte[] png = TestEncoders.Png(1, 1, colorType: 0, bitDepth: 8, [7], claimedSize: (16384, 384 / 64));
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(png, "strip.png"));
        Assert.That(e!.Message, Does.StartWith("strip.png: 16384x6 has an aspect ratio of 2730.7:1"));
    }

    [Test]
    public void AFileLargerThanTheByteLimitIsRefusedBeforeReading()
    {
        string dir = Directory.CreateTempSubdirectory("coar-big-").FullName;
        try
        {
            string path = Path.Combine(dir, "big.png");
            File.WriteAllBytes(path, ImageFile.EncodePng(TestImages.Random(64, 64, seed: 9)));
            var e = Assert.Throws<InvalidDataException>(() => ImageFile.Load(path, new ImageDecodeLimits(MaxBytes: 1000)));
            Assert.That(e!.Message, Does.Contain(path).And.Contain("more than the 1000 accepted"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Fixture(string name) => Path.Combine(TestContext.CurrentContext.TestDirectory, "Imaging", "fixtures", name);

    [Test]
    public void GifDecodesTheFirstFrameThroughItsPalette()
    {
        byte[][] palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]];
        byte[] first = [0, 1, 2, 3, 3, 2, 1, 0];
        byte[] second = [3, 3, 3, 3, 3, 3, 3, 3];
        RgbImage decoded = ImageFile.Decode(GifFixture.Write(4, 2, palette, first, second), "fixture.gif");
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((4, 2)));
        byte[] expected = first.SelectMany(i => palette[i]).ToArray();
        Assert.That(decoded.Pixels, Is.EqualTo(expected));
    }

    [Test]
    public void AlphaIsCompositedOnWhiteBitForBitAsTheReference()
    {
        // (alpha, channel) -> numpy uint8((1 - a/255.0) * 255 + (a/255.0) * c), computed in CPython: float64
        // rounding makes e.g. (43, 255) give 254 and (254, 0) give 0, where exact arithmetic would give 255 and 1.
        (byte Alpha, byte Channel, byte Expected)[] reference =
        [
            (0, 0, 255), (0, 200, 255), (1, 0, 254), (1, 255, 255), (64, 10, 193), (128, 0, 127), (128, 77, 165),
            (200, 33, 80), (254, 0, 0), (254, 100, 100), (255, 0, 0), (255, 123, 123), (3, 250, 254),
            (43, 255, 254), (43, 0, 211), (75, 17, 184), (102, 204, 234),
        ];
        var rgba = new byte[reference.Length * 4];
        for (int i = 0; i < reference.Length; i++)
        {
            rgba[4 * i] = reference[i].Channel;
            rgba[4 * i + 1] = reference[i].Channel;
            rgba[4 * i + 2] = reference[i].Channel;
            rgba[4 * i + 3] = reference[i].Alpha;
        }
        byte[] png = TestEncoders.Png(reference.Length, 1, colorType: 6, bitDepth: 8, rgba);
        RgbImage decoded = ImageFile.Decode(png, "rgba.png", new ImageDecodeLimits(MaxAspectRatio: 100));
        for (int i = 0; i < reference.Length; i++)
        {
            var (alpha, channel, expected) = reference[i];
            Assert.That(decoded.Pixels[3 * i], Is.EqualTo(expected), $"alpha {alpha}, channel {channel}");
            Assert.That(decoded.Pixels[3 * i + 1], Is.EqualTo(expected), $"alpha {alpha}, channel {channel}");
            Assert.That(decoded.Pixels[3 * i + 2], Is.EqualTo(expected), $"alpha {alpha}, channel {channel}");
        }
    }

    [Test]
    public void GreyscaleWithAlphaIsCompositedToo()
    {
        byte[] greyAlpha = [0, 0, 100, 128, 200, 255];
        byte[] png = TestEncoders.Png(3, 1, colorType: 4, bitDepth: 8, greyAlpha);
        Assert.That(ImageFile.Decode(png, "ga.png").Pixels, Is.EqualTo(new byte[] { 255, 255, 255, 177, 177, 177, 200, 200, 200 }));
    }

    [Test]
    public void TruncatedPngIsAClearError()
    {
        byte[] png = ImageFile.EncodePng(TestImages.Random(32, 32, seed: 4));
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(png.AsSpan(0, png.Length / 2), "half.png"));
        Assert.That(e!.Message, Does.StartWith("half.png: the 32x32 Png image could not be decoded (the file is truncated or damaged)"));
    }

    [Test]
    public void GarbageIsAClearError()
    {
        var garbage = new byte[500];
        new Random(5).NextBytes(garbage);
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(garbage, "noise.bin"));
        Assert.That(e!.Message, Does.StartWith("noise.bin: not a readable JPEG, PNG, WebP, GIF, BMP or ICO image ("));
    }

    [Test]
    public void EmptyInputIsAClearError()
    {
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode([], "empty.png"));
        Assert.That(e!.Message, Does.Contain("empty.png").And.Contain("empty"));
    }

    [Test]
    public void AHugeHeaderIsRefusedBeforeDecoding()
    {
        // A PNG with one row of data whose header claims 17000 x 1000: the header check stops it before any decoding.
        byte[] png = TestEncoders.Png(1, 1, colorType: 0, bitDepth: 8, [7], claimedSize: (17_000, 1_000));
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(png, "bomb.png"));
        Assert.That(e!.Message, Does.StartWith("bomb.png: 17000x1000 is larger than allowed"));
    }

    [Test]
    public void TheSizeLimitIsConfigurable()
    {
        byte[] png = ImageFile.EncodePng(TestImages.Random(20, 20, seed: 7));
        Assert.That(ImageFile.Decode(png, "ok.png", new ImageDecodeLimits(MaxSide: 20, MaxPixels: 400)).Width, Is.EqualTo(20));
        var e = Assert.Throws<InvalidDataException>(() =>
            ImageFile.Decode(png, "big.png", new ImageDecodeLimits(MaxPixels: 399)));
        Assert.That(e!.Message, Does.Contain("20x20 is larger than allowed"));
        Assert.Throws<InvalidDataException>(() => ImageFile.Decode(png, "wide.png", new ImageDecodeLimits(MaxSide: 19)));
    }

    [Test]
    public void LoadingAMissingFileNamesIt()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ImageFile.Load("/nonexistent/picture.png"));
        Assert.That(e!.Message, Does.Contain("/nonexistent/picture.png"));
        var fifo = Assert.Throws<InvalidDataException>(() => ImageFile.Load(Fifo.Make("picture.png")));
        Assert.That(fifo!.Message, Does.Contain("picture.png").And.Contain("FIFO"));
    }

    [Test]
    public void RgbImageChecksItsBuffer()
    {
        Assert.Throws<ArgumentException>(() => _ = new RgbImage(4, 4, new byte[47]));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RgbImage(0, 4));
        RgbImage crop = TestImages.Gradient(10, 8).Crop(3, 2, 4, 5);
        Assert.That(TestImages.Pixel(crop, 0, 0), Is.EqualTo(TestImages.Pixel(TestImages.Gradient(10, 8), 3, 2)));
        Assert.Throws<ArgumentOutOfRangeException>(() => TestImages.Gradient(10, 8).Crop(7, 0, 4, 1));
    }
}
