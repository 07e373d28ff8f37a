namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// What a decode accepts, checked before any pixel is decoded, so a small file that claims a giant image cannot make
/// the decoder allocate gigabytes: the file size, the sides and pixel count from the header, and the aspect ratio
/// (Lumina's sizes go to 4:1; a 16:1 image would lose most of itself to the crop, and resizing an extreme one to
/// cover a crop is what would need gigabytes). Defaults: 256 MiB, 16384 px a side, 256 Mi pixels, 16:1.
/// </summary>
public sealed record ImageDecodeLimits(int MaxSide = 16384, long MaxPixels = 256L * 1024 * 1024, long MaxBytes = 256L * 1024 * 1024,
    double MaxAspectRatio = 16.0)
{
    public static ImageDecodeLimits Default { get; } = new();
}
