using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Imaging;
using SkiaSharp;

namespace CoAR.Engine.Tests.Imaging;

/// <summary>Image files for tests, in the forms users bring: PNGs of any colour type and depth, BMPs, JPEGs.</summary>
internal static class TestEncoders
{
    /// <summary>
    /// A PNG written chunk by chunk: <paramref name="colorType"/> 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA;
    /// <paramref name="rows"/> holds the raw scanlines (no filter bytes). The header may claim another size.
    /// </summary>
    internal static byte[] Png(int width, int height, int colorType, int bitDepth, byte[] rows, byte[]? palette = null,
        byte[]? transparency = null, (int Width, int Height)? claimedSize = null, byte[]? extraChunkBeforeData = null)
    {
        var file = new MemoryStream();
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, claimedSize?.Width ?? width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), claimedSize?.Height ?? height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        Chunk(file, "IHDR", ihdr);
        if (palette is not null) Chunk(file, "PLTE", palette);
        if (transparency is not null) Chunk(file, "tRNS", transparency);
        if (extraChunkBeforeData is not null) file.Write(extraChunkBeforeData);
        int rowBytes = rows.Length / height;
        var filtered = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            filtered.WriteByte(0);
            filtered.Write(rows, y * rowBytes, rowBytes);
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
            z.Write(filtered.ToArray());
        Chunk(file, "IDAT", compressed.ToArray());
        Chunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void Chunk(Stream file, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        file.Write(word);
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        file.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typed));
        file.Write(word);
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A 24-bit BMP, bottom-up as most writers store it, or top-down (a negative height in the header).</summary>
    internal static byte[] Bmp(RgbImage image, bool topDown)
    {
        int stride = (image.Width * 3 + 3) & ~3;
        var file = new byte[54 + stride * image.Height];
        file[0] = (byte)'B';
        file[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(2), file.Length);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(18), image.Width);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(22), topDown ? -image.Height : image.Height);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(file.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(34), stride * image.Height);
        for (int y = 0; y < image.Height; y++)
        {
            int row = 54 + (topDown ? y : image.Height - 1 - y) * stride;
            for (int x = 0; x < image.Width; x++)
            {
                var (r, g, b) = TestImages.Pixel(image, x, y);
                (file[row + 3 * x], file[row + 3 * x + 1], file[row + 3 * x + 2]) = (b, g, r);
            }
        }
        return file;
    }

    internal static byte[] Jpeg(RgbImage image, int quality = 90) => Encode(image, SKEncodedImageFormat.Jpeg, quality, null);

    /// <summary>A PNG whose pixels are in <paramref name="colorSpace"/>, which Skia embeds as an ICC profile.</summary>
    internal static byte[] PngIn(RgbImage image, SKColorSpace colorSpace) => Encode(image, SKEncodedImageFormat.Png, 100, colorSpace);

    private static byte[] Encode(RgbImage image, SKEncodedImageFormat format, int quality, SKColorSpace? colorSpace)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0; i < image.Width * image.Height; i++)
        {
            image.Pixels.AsSpan(3 * i, 3).CopyTo(rgba.AsSpan(4 * i));
            rgba[4 * i + 3] = 255;
        }
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque, colorSpace);
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            using var pixmap = new SKPixmap(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var data = pixmap.Encode(format, quality)!;
            return data.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }
}
