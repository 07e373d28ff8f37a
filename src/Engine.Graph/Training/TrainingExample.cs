using CoAR.Engine.Graph.Generation;

namespace CoAR.Engine.Graph.Training;

/// <summary>One training image as the model sees it: its image-phase tokens (header, rows with new lines, end of image, end of turn).</summary>
public sealed record TrainingExample(string Source, ImageLayout Layout, int[] ImageTokens)
{
    public static TrainingExample FromCodes(string source, ImageLayout layout, ReadOnlySpan<int> codes) =>
        new(source, layout, [.. layout.Header, .. layout.Body(codes), layout.Ids.ImageEnd, layout.Ids.EndOfTurn]);
}
