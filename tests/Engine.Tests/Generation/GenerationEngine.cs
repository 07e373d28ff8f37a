using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Tests.Model;

namespace CoAR.Engine.Tests.Generation;

/// <summary>One CPU engine on the tiny model for the generation tests, and concepts with random context tokens.</summary>
internal static class GenerationEngine
{
    private static readonly Lazy<CoarEngine> Shared = new(() => CoarEngine.Load(new EngineParams(TinyModels.Default, "cpu", TargetSize: 512)));

    public static CoarEngine Coar => Shared.Value;

    /// <summary>A concept bound to <paramref name="placeholder"/> with context tokens drawn from <paramref name="seed"/> (or all NaN).</summary>
    public static Concept RandomConcept(string placeholder, int seed, int depth = 2, bool nan = false)
    {
        int hidden = Coar.Model.Config.HiddenSize;
        var random = new Random(seed);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => nan ? float.NaN : (float)(random.NextDouble() * 2 - 1)).ToArray();
        return new Concept(ConceptKind.Subject, placeholder, "dog", depth, 1, 1, hidden, Values(depth * hidden), Values(depth * hidden));
    }
}
