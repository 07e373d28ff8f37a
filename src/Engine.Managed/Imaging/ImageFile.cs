using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Files;
using SkiaSharp;

namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// Image files at the engine's edge, through Skia's codecs (SkiaSharp; the codecs Chrome ships, fuzzed continuously):
/// JPEG (also CMYK), PNG (also 16-bit and palette), WebP, GIF (first frame), BMP (also top-down) and ICO in; PNG out.
/// Decoded pixels are converted to sRGB from an embedded colour profile, turned upright by the EXIF orientation, and
/// transparency is composited on white exactly as Chameleon's and Lumina-mGPT's image processors do.
/// </summary>
public static class ImageFile
{
    private const string Formats = "JPEG, PNG, WebP, GIF, BMP or ICO";

    public static RgbImage Load(string path, ImageDecodeLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        limits ??= ImageDecodeLimits.Default;
        return Decode(InputFile.ReadAllBytes(path, limits.MaxBytes, "image file"), path, limits);
    }

    /// <param name="sourceName">Names the image in error messages (a path, a URL, "reference 2").</param>
    public static RgbImage Decode(ReadOnlySpan<byte> bytes, string sourceName, ImageDecodeLimits? limits = null)
    {
        limits ??= ImageDecodeLimits.Default;
        if (bytes.IsEmpty)
            throw new InvalidDataException($"{sourceName}: the image is empty (0 bytes)");
        if (bytes.Length > limits.MaxBytes)
            throw new InvalidDataException($"{sourceName}: {bytes.Length} bytes is more than the {limits.MaxBytes} accepted for an image");

        using var data = SKData.CreateCopy(bytes);
        using var stream = new SKMemoryStream(data);
        using var codec = SKCodec.Create(stream, out var opened);
        if (codec is null)
            throw new InvalidDataException($"{sourceName}: not a readable {Formats} image ({Describe(opened)})");
        int width = codec.Info.Width, height = codec.Info.Height;
        CheckLimits(width, height, limits, sourceName);

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul, SKColorSpace.CreateSrgb());
        var rgba = new byte[checked((long)width * height * 4)];
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        SKCodecResult decoded;
        try
        {
            decoded = codec.GetPixels(info, handle.AddrOfPinnedObject(), info.RowBytes, new SKCodecOptions(SKZeroInitialized.Yes));
        }
        finally
        {
            handle.Free();
        }
        if (decoded != SKCodecResult.Success)
            throw new InvalidDataException(
                $"{sourceName}: the {width}x{height} {codec.EncodedFormat} image could not be decoded ({Describe(decoded)})");
        return ImageOrientation.Apply(AlphaComposite.OnWhite(rgba, width, height), codec.EncodedOrigin);
    }

    public static byte[] EncodePng(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        // Skia encodes an opaque RGBA image as an RGB PNG.
        var rgba = new byte[(long)image.Width * image.Height * 4];
        byte[] rgb = image.Pixels;
        for (int i = 0, o = 0; i < rgb.Length; i += 3, o += 4)
        {
            rgba[o] = rgb[i];
            rgba[o + 1] = rgb[i + 1];
            rgba[o + 2] = rgb[i + 2];
            rgba[o + 3] = 255;
        }
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var png = pixmap.Encode(SKEncodedImageFormat.Png, 100)
                            ?? throw new InvalidOperationException($"Skia could not encode a {image.Width}x{image.Height} PNG");
            return png.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Writes a PNG through a temporary file in the same directory and an atomic rename.</summary>
    public static void SavePng(RgbImage image, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.WriteAllBytes(path, EncodePng(image));
    }

    private static void CheckLimits(int width, int height, ImageDecodeLimits limits, string sourceName)
    {
        if (width <= 0 || height <= 0)
            throw new InvalidDataException($"{sourceName}: the header gives an empty image ({width}x{height})");
        if (width > limits.MaxSide || height > limits.MaxSide || (long)width * height > limits.MaxPixels)
            throw new InvalidDataException(
                $"{sourceName}: {width}x{height} is larger than allowed (at most {limits.MaxSide} px a side and "
                + $"{limits.MaxPixels} pixels)");
        double aspect = (double)Math.Max(width, height) / Math.Min(width, height);
        if (aspect > limits.MaxAspectRatio)
            throw new InvalidDataException(
                $"{sourceName}: {width}x{height} has an aspect ratio of {aspect:0.#}:1, more than the {limits.MaxAspectRatio:0.#}:1 accepted "
                + "(the model's sizes go to 4:1; crop the image first)");
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => "the file is truncated or damaged",
        SKCodecResult.InvalidInput => "the data is not an image in a known format",
        SKCodecResult.Unimplemented => "a feature of this file is not supported",
        SKCodecResult.InvalidConversion => "its pixel format cannot be converted to RGB",
        _ => $"Skia: {result}",
    };
}
