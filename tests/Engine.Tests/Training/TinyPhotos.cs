using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Tests.Training;

/// <summary>The training tests' subject at 64 pixels (4x4 latents): two "photos" as fixed code grids, so a model that learns them lowers their NTP loss.</summary>
internal static class TinyPhotos
{
    public static List<TrainingExample> Subject(CoarEngine engine)
    {
        var layout = ImageLayout.For(64, 64, engine.Prompt.Vocabulary.ToImageTokenIds());
        return [TrainingExample.FromCodes("a", layout, Enumerable.Range(0, 16).Select(i => 100 + i).ToArray()),
                TrainingExample.FromCodes("b", layout, Enumerable.Range(0, 16).Select(i => 100 + 2 * i).ToArray())];
    }
}
