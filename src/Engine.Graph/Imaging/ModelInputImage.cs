namespace CoAR.Engine.Graph.Imaging;

/// <summary>An image ready for the VQGAN encoder: fp32 in [-1, 1], channels first ([3, Height, Width]).</summary>
public sealed class ModelInputImage
{
    public int Width { get; }
    public int Height { get; }

    /// <summary>3 * Height * Width values: the R plane, then G, then B, each row-major.</summary>
    public float[] Chw { get; }

    public ModelInputImage(int width, int height, float[] chw)
    {
        ArgumentNullException.ThrowIfNull(chw);
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"image size must be positive, got {width}x{height}");
        if (chw.LongLength != 3L * width * height)
            throw new ArgumentException($"a [3,{height},{width}] image needs {3L * width * height} values, got {chw.Length}",
                nameof(chw));
        Width = width;
        Height = height;
        Chw = chw;
    }
}
