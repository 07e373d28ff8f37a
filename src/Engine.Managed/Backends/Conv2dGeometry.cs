namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// Stride and zero padding of a 2-D convolution (the kernel size comes from the weight). Padding may differ per side,
/// which the taming-transformers Downsample needs (right and bottom only).
/// </summary>
public readonly record struct Conv2dGeometry
{
    public Conv2dGeometry(int Stride, int PadTop, int PadLeft, int PadBottom, int PadRight)
    {
        this.Stride = Stride;
        this.PadTop = PadTop;
        this.PadLeft = PadLeft;
        this.PadBottom = PadBottom;
        this.PadRight = PadRight;
        Validate();
    }

    public int Stride { get; }
    public int PadTop { get; }
    public int PadLeft { get; }
    public int PadBottom { get; }
    public int PadRight { get; }

    /// <summary>Stride 1 and k/2 zeros on every side: output size = input size for an odd kernel k.</summary>
    public static Conv2dGeometry Same(int kernel)
    {
        if (kernel < 1 || kernel % 2 == 0)
            throw new ArgumentOutOfRangeException(nameof(kernel), $"Conv2dGeometry.Same: kernel {kernel} must be odd and positive to keep the size");
        return new Conv2dGeometry(1, kernel / 2, kernel / 2, kernel / 2, kernel / 2);
    }

    /// <summary>A 1x1 convolution: stride 1, no padding.</summary>
    public static Conv2dGeometry Pointwise => new(1, 0, 0, 0, 0);

    /// <summary>taming-transformers Downsample: one zero row at the bottom and column at the right, 3x3 kernel, stride 2.</summary>
    public static Conv2dGeometry DownsampleRightBottom => new(2, 0, 0, 1, 1);

    /// <summary>
    /// Output height (<paramref name="height"/> true) or width: (in + pads - kernel) / stride + 1. Throws, naming the
    /// geometry and sizes, when that is below 1.
    /// </summary>
    public int OutputSize(int inSize, int kernel, bool height)
    {
        Validate();
        string axis = height ? "height" : "width";
        if (inSize < 1 || kernel < 1)
            throw new ArgumentOutOfRangeException(nameof(inSize), $"{this}: input {axis} {inSize} and kernel {kernel} must both be at least 1");
        int padded = inSize + (height ? PadTop + PadBottom : PadLeft + PadRight);
        if (padded < kernel)
            throw new ArgumentException($"{this}: input {axis} {inSize} padded to {padded} is smaller than the kernel ({kernel}); the output would be empty");
        return (padded - kernel) / Stride + 1;
    }

    // A default(Conv2dGeometry) bypasses the constructor, so OutputSize checks again.
    private void Validate()
    {
        if (Stride < 1)
            throw new ArgumentOutOfRangeException(nameof(Stride), $"Conv2dGeometry: stride {Stride} must be at least 1");
        if (PadTop < 0 || PadLeft < 0 || PadBottom < 0 || PadRight < 0)
            throw new ArgumentOutOfRangeException(nameof(PadTop),
                $"Conv2dGeometry: padding (top {PadTop}, left {PadLeft}, bottom {PadBottom}, right {PadRight}) must not be negative");
    }
}
