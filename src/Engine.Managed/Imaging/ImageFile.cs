using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// Image files at the engine's edge, through Debian's libstb0: JPEG, PNG, BMP and GIF (first frame) in, PNG out.
/// Transparency is composited on white exactly as Chameleon's and Lumina-mGPT's image processors do.
/// </summary>
public static unsafe class ImageFile
{
    private const int Rgba = 4;

    public static RgbImage Load(string path, ImageDecodeLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"image file {path} does not exist", path);
        if (info.Length > int.MaxValue)
            throw new InvalidDataException($"{path}: {info.Length} bytes is larger than an image file can be (2 GiB)");
        return Decode(File.ReadAllBytes(path), path, limits);
    }

    /// <param name="sourceName">Names the image in error messages (a path, a URL, "reference 2").</param>
    public static RgbImage Decode(ReadOnlySpan<byte> bytes, string sourceName, ImageDecodeLimits? limits = null)
    {
        limits ??= ImageDecodeLimits.Default;
        if (bytes.IsEmpty)
            throw new InvalidDataException($"{sourceName}: the image is empty (0 bytes)");
        StbLibrary.EnsureLoaded();

        fixed (byte* data = bytes)
        {
            int width, height, channels;
            if (StbImage.InfoFromMemory(data, bytes.Length, &width, &height, &channels) == 0)
                throw new InvalidDataException(
                    $"{sourceName}: not a readable JPEG, PNG, BMP or GIF image (stb: {StbImage.FailureReason()})");
            CheckLimits(width, height, limits, sourceName);

            int decodedWidth, decodedHeight, fileChannels;
            byte* rgba = StbImage.LoadFromMemory(data, bytes.Length, &decodedWidth, &decodedHeight, &fileChannels, Rgba);
            if (rgba == null)
                throw new InvalidDataException(
                    $"{sourceName}: the {width}x{height} image could not be decoded (stb: {StbImage.FailureReason()})");
            try
            {
                if (decodedWidth != width || decodedHeight != height)
                    throw new InvalidDataException(
                        $"{sourceName}: header says {width}x{height} but {decodedWidth}x{decodedHeight} pixels decoded");
                return AlphaComposite.OnWhite(new ReadOnlySpan<byte>(rgba, checked(width * height * Rgba)), width, height);
            }
            finally
            {
                StbImage.ImageFree(rgba);
            }
        }
    }

    public static byte[] EncodePng(RgbImage image) => StbEncoder.Encode(image, StbEncoder.Format.Png);

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
    }
}
