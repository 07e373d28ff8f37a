namespace CoAR.Engine.Tests.Imaging;

/// <summary>
/// Writes small GIF89a files (Skia has no GIF writer): a 4-colour global palette and one image per frame, LZW-coded
/// with a clear code before every second pixel so the code width stays at 3 bits.
/// </summary>
internal static class GifFixture
{
    internal static byte[] Write(int width, int height, byte[][] palette, params byte[][] frames)
    {
        var gif = new List<byte>();
        gif.AddRange("GIF89a"u8.ToArray());
        AddU16(gif, width);
        AddU16(gif, height);
        gif.Add(0x91); // global colour table of 2^(1+1) = 4 entries, 2-bit colour resolution
        gif.Add(0);
        gif.Add(0);
        foreach (byte[] rgb in palette)
            gif.AddRange(rgb);
        foreach (byte[] indices in frames)
        {
            gif.Add(0x2C);
            AddU16(gif, 0);
            AddU16(gif, 0);
            AddU16(gif, width);
            AddU16(gif, height);
            gif.Add(0);
            gif.Add(2); // LZW minimum code size: clear = 4, end = 5
            byte[] data = Lzw(indices);
            for (int i = 0; i < data.Length; i += 255)
            {
                int n = Math.Min(255, data.Length - i);
                gif.Add((byte)n);
                gif.AddRange(data.AsSpan(i, n).ToArray());
            }
            gif.Add(0);
        }
        gif.Add(0x3B);
        return gif.ToArray();
    }

    private static byte[] Lzw(byte[] indices)
    {
        var codes = new List<int>();
        for (int i = 0; i < indices.Length; i++)
        {
            if (i % 2 == 0)
                codes.Add(4);
            codes.Add(indices[i]);
        }
        codes.Add(5);
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (int code in codes)
        {
            buffer |= code << bits;
            bits += 3;
            while (bits >= 8)
            {
                bytes.Add((byte)buffer);
                buffer >>= 8;
                bits -= 8;
            }
        }
        if (bits > 0)
            bytes.Add((byte)buffer);
        return bytes.ToArray();
    }

    private static void AddU16(List<byte> bytes, int value)
    {
        bytes.Add((byte)value);
        bytes.Add((byte)(value >> 8));
    }
}
