namespace CoAR.Engine.Graph.Training;

/// <summary>How a photo is cropped to its training size each time it is drawn.</summary>
public enum CropMode
{
    Random,
    Center,
}
