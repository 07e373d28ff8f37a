namespace CoAR.Engine.Graph.Text;

/// <summary>An image size in pixels, width first.</summary>
public readonly record struct ImageSize(int Width, int Height)
{
    public override string ToString() => $"{Width}x{Height}";
}
