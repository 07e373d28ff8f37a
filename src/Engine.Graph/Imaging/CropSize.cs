namespace CoAR.Engine.Graph.Imaging;

/// <summary>An image size the model is trained on: width and height in pixels, multiples of 32.</summary>
public readonly record struct CropSize(int Width, int Height)
{
    public override string ToString() => $"{Width}x{Height}";
}
