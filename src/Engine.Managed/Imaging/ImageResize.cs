namespace CoAR.Engine.Managed.Imaging;

/// <summary>
/// Resampling exactly as Pillow's <c>Image.resize</c> does for 8-bit RGB (libImaging/Resample.c), the resize the
/// reference's preprocessing uses: a separable convolution whose support widens by the scale factor when shrinking,
/// taps clipped to the image and renormalised, weights in 22-bit fixed point, the horizontal pass (rounded to 8 bits)
/// before the vertical one. Results are bit-identical to Pillow's.
/// </summary>
public static class ImageResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Pillow's BICUBIC: Keys' cubic convolution with a = -0.5, support 2.</summary>
    public static RgbImage Bicubic(RgbImage source, int width, int height) => Resize(source, width, height, Filter.Bicubic);

    /// <summary>Pillow's BOX: each output pixel averages the input pixels its footprint covers (a 2x2 mean when halving).</summary>
    public static RgbImage Box(RgbImage source, int width, int height) => Resize(source, width, height, Filter.Box);

    private enum Filter { Box, Bicubic }

    private static RgbImage Resize(RgbImage source, int width, int height, Filter filter)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (width <= 0 || height <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), $"the target size must be positive, got {width}x{height}");
        if (width == source.Width && height == source.Height)
            return new RgbImage(width, height, (byte[])source.Pixels.Clone());

        var horizontal = Coefficients.For(source.Width, width, filter);
        var vertical = Coefficients.For(source.Height, height, filter);
        RgbImage image = source;
        int[] rowBounds = vertical.Bounds;
        if (width != source.Width)
        {
            // Only the rows the vertical pass reads are resampled horizontally.
            int first = vertical.Bounds[0];
            int last = vertical.Bounds[2 * height - 2] + vertical.Bounds[2 * height - 1];
            image = Horizontal(source, first, last - first, horizontal);
            rowBounds = (int[])vertical.Bounds.Clone();
            for (int i = 0; i < height; i++)
                rowBounds[2 * i] -= first;
        }
        if (height != source.Height)
            image = Vertical(image, height, vertical with { Bounds = rowBounds });
        return image;
    }

    private static RgbImage Horizontal(RgbImage source, int firstRow, int rows, Coefficients c)
    {
        var output = new RgbImage(c.OutSize, rows);
        byte[] input = source.Pixels, pixels = output.Pixels;
        Parallel.For(0, rows, y =>
        {
            int inRow = (y + firstRow) * source.Width * 3, outRow = y * c.OutSize * 3;
            for (int x = 0; x < c.OutSize; x++)
            {
                int min = c.Bounds[2 * x], count = c.Bounds[2 * x + 1], k = x * c.KernelSize;
                int s0 = 1 << (PrecisionBits - 1), s1 = s0, s2 = s0;
                for (int i = 0; i < count; i++)
                {
                    int p = inRow + (min + i) * 3, w = c.Weights[k + i];
                    s0 += input[p] * w;
                    s1 += input[p + 1] * w;
                    s2 += input[p + 2] * w;
                }
                int o = outRow + x * 3;
                pixels[o] = Clip8(s0);
                pixels[o + 1] = Clip8(s1);
                pixels[o + 2] = Clip8(s2);
            }
        });
        return output;
    }

    private static RgbImage Vertical(RgbImage source, int height, Coefficients c)
    {
        int rowBytes = source.Width * 3;
        var output = new RgbImage(source.Width, height);
        byte[] input = source.Pixels, pixels = output.Pixels;
        Parallel.For(0, height, y =>
        {
            int min = c.Bounds[2 * y], count = c.Bounds[2 * y + 1], k = y * c.KernelSize;
            for (int b = 0; b < rowBytes; b++)
            {
                int s = 1 << (PrecisionBits - 1);
                for (int i = 0; i < count; i++)
                    s += input[(min + i) * rowBytes + b] * c.Weights[k + i];
                pixels[y * rowBytes + b] = Clip8(s);
            }
        });
        return output;
    }

    private static byte Clip8(int value) =>
        value >= 255 << PrecisionBits ? (byte)255 : value <= 0 ? (byte)0 : (byte)(value >> PrecisionBits);

    /// <summary>
    /// Pillow's <c>precompute_coeffs</c> + <c>normalize_coeffs_8bpc</c>: for output pixel i, the first input pixel
    /// <c>Bounds[2i]</c>, the tap count <c>Bounds[2i+1]</c>, and <c>KernelSize</c> fixed-point weights from <c>Weights[i * KernelSize]</c>.
    /// </summary>
    private sealed record Coefficients(int OutSize, int KernelSize, int[] Bounds, int[] Weights)
    {
        public static Coefficients For(int inSize, int outSize, Filter filter)
        {
            double support = filter == Filter.Box ? 0.5 : 2.0;
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            support *= filterScale;
            int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
            var bounds = new int[2 * outSize];
            var weights = new int[checked(outSize * kernelSize)];
            var k = new double[kernelSize];
            for (int o = 0; o < outSize; o++)
            {
                double center = (o + 0.5) * scale;
                double sum = 0.0, inverse = 1.0 / filterScale;
                int min = Math.Max(0, (int)(center - support + 0.5));
                int max = Math.Min(inSize, (int)(center + support + 0.5)) - min;
                for (int x = 0; x < max; x++)
                {
                    double w = Evaluate(filter, (x + min - center + 0.5) * inverse);
                    k[x] = w;
                    sum += w;
                }
                for (int x = 0; x < kernelSize; x++)
                {
                    double w = x < max && sum != 0.0 ? k[x] / sum : 0.0;
                    weights[o * kernelSize + x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
                }
                bounds[2 * o] = min;
                bounds[2 * o + 1] = max;
            }
            return new Coefficients(outSize, kernelSize, bounds, weights);
        }

        private static double Evaluate(Filter filter, double x)
        {
            if (filter == Filter.Box)
                return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
            const double a = -0.5;
            x = Math.Abs(x);
            if (x < 1.0)
                return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
            if (x < 2.0)
                return (((x - 5) * x + 8) * x - 4) * a;
            return 0.0;
        }
    }
}
