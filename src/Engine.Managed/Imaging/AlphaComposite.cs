namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// RGBA over a white background, bit-identical to the reference's numpy code
/// <c>uint8((1 - a/255.0) * 255 + (a/255.0) * c)</c>: float64 math in that order, truncated toward zero.
/// All 256 x 256 (alpha, channel) results are tabulated once, from that same expression.
/// </summary>
internal static class AlphaComposite
{
    private static readonly Lazy<byte[]> Table = new(BuildTable);

    internal static RgbImage OnWhite(ReadOnlySpan<byte> rgba, int width, int height)
    {
        byte[] table = Table.Value;
        var image = new RgbImage(width, height);
        Span<byte> rgb = image.Pixels;
        for (int i = 0, o = 0; o < rgb.Length; i += 4, o += 3)
        {
            int row = rgba[i + 3] << 8;
            rgb[o] = table[row | rgba[i]];
            rgb[o + 1] = table[row | rgba[i + 1]];
            rgb[o + 2] = table[row | rgba[i + 2]];
        }
        return image;
    }

    /// <summary>The reference's expression for one alpha and one channel value.</summary>
    internal static byte Blend(int alpha, int channel)
    {
        double a = alpha / 255.0;
        return (byte)((1 - a) * 255 + a * channel);
    }

    private static byte[] BuildTable()
    {
        var table = new byte[256 * 256];
        for (int alpha = 0; alpha < 256; alpha++)
        for (int channel = 0; channel < 256; channel++)
            table[(alpha << 8) | channel] = Blend(alpha, channel);
        return table;
    }
}
