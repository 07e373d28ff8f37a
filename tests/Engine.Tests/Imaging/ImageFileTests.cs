using System.Buffers.Binary;
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

    [Test]
    public void BmpDecodesExactly()
    {
        RgbImage image = TestImages.Random(13, 7, seed: 3);
        byte[] bmp = StbEncoder.Encode(image, StbEncoder.Format.Bmp);
        Assert.That(bmp[..2], Is.EqualTo("BM"u8.ToArray()));
        Assert.That(ImageFile.Decode(bmp, "fixture.bmp").Pixels, Is.EqualTo(image.Pixels));
    }

    [Test]
    public void JpegDecodesCloseToTheOriginal()
    {
        RgbImage image = TestImages.Gradient(64, 48);
        byte[] jpeg = StbEncoder.Encode(image, StbEncoder.Format.Jpeg, jpegQuality: 95);
        Assert.That(jpeg[..2], Is.EqualTo(new byte[] { 0xFF, 0xD8 }));
        RgbImage decoded = ImageFile.Decode(jpeg, "fixture.jpg");
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((64, 48)));
        double meanError = image.Pixels.Zip(decoded.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.That(meanError, Is.LessThan(3.0));
    }

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
        byte[] png = StbEncoder.Encode(rgba, reference.Length, 1, 4, StbEncoder.Format.Png);
        RgbImage decoded = ImageFile.Decode(png, "rgba.png");
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
        byte[] png = StbEncoder.Encode(greyAlpha, 3, 1, 2, StbEncoder.Format.Png);
        Assert.That(ImageFile.Decode(png, "ga.png").Pixels, Is.EqualTo(new byte[] { 255, 255, 255, 177, 177, 177, 200, 200, 200 }));
    }

    [Test]
    public void TruncatedPngIsAClearError()
    {
        byte[] png = ImageFile.EncodePng(TestImages.Random(32, 32, seed: 4));
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(png.AsSpan(0, png.Length / 2), "half.png"));
        Assert.That(e!.Message, Does.StartWith("half.png: the 32x32 image could not be decoded (stb: "));
    }

    [Test]
    public void GarbageIsAClearError()
    {
        var garbage = new byte[500];
        new Random(5).NextBytes(garbage);
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Decode(garbage, "noise.bin"));
        Assert.That(e!.Message, Does.StartWith("noise.bin: not a readable JPEG, PNG, BMP or GIF image (stb: "));
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
        // A valid 1x1 PNG whose IHDR is patched to claim 17000 x 1000 (stb does not check the CRC); decoding it
        // would read past the data, but the header check stops it first.
        byte[] png = ImageFile.EncodePng(TestImages.Random(1, 1, seed: 6));
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), 17_000);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), 1_000);
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
