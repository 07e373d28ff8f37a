namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// The largest image a decode accepts, checked from the header before any pixel is decoded, so a tiny file that claims
/// a giant image cannot make the decoder allocate gigabytes. The default is 16384 px a side and 256 Mi pixels.
/// </summary>
public sealed record ImageDecodeLimits(int MaxSide = 16384, long MaxPixels = 256L * 1024 * 1024)
{
    public static ImageDecodeLimits Default { get; } = new();
}
