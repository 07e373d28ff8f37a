namespace CoAR.Engine.Graph.Imaging;

/// <summary>One VQGAN weight: its name (spec section 7) and shape.</summary>
public sealed record VqganTensorSpec(string Name, long[] Shape);
