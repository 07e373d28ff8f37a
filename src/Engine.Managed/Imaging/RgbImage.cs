namespace CoAR.Engine.Managed.Imaging;

/// <summary>An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B: the form images cross the engine's API in.</summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }

    /// <summary>Width * Height * 3 bytes, row-major, no padding between rows.</summary>
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        long expected = ByteCount(width, height);
        if (pixels.LongLength != expected)
            throw new ArgumentException($"a {width}x{height} RGB image needs {expected} bytes, got {pixels.LongLength}",
                nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>A black image.</summary>
    public RgbImage(int width, int height) : this(width, height, new byte[ByteCount(width, height)])
    {
    }

    public int RowBytes => Width * 3;

    public ReadOnlySpan<byte> Row(int y) => Pixels.AsSpan(checked(y * RowBytes), RowBytes);

    /// <summary>The w x h region whose top-left corner is (x, y).</summary>
    public RgbImage Crop(int x, int y, int width, int height)
    {
        if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > Width || y + height > Height)
            throw new ArgumentOutOfRangeException(nameof(x),
                $"crop {width}x{height} at ({x},{y}) does not fit in a {Width}x{Height} image");
        var result = new RgbImage(width, height);
        for (int row = 0; row < height; row++)
            Row(y + row).Slice(x * 3, width * 3).CopyTo(result.Pixels.AsSpan(row * width * 3, width * 3));
        return result;
    }

    private static long ByteCount(int width, int height)
    {
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive, got {width}x{height}");
        long bytes = (long)width * height * 3;
        if (bytes > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(width), $"a {width}x{height} RGB image does not fit in one array");
        return bytes;
    }
}
