using CoAR.Engine.Graph.Model;
using CoAR.Engine.Tests.Model;

namespace CoAR.Engine.Tests.Training;

/// <summary>
/// The sequence and model the whole-model gradient tests share (context tokens, index embeddings, projection weights,
/// LoRA): text with slot positions at tokens 3 and 6, then an image header and two rows of codes, on a 3-layer tiny model.
/// </summary>
internal static class GradientSequence
{
    public static readonly int[] Tokens = [0, 8900, 8950, 1, 8990, 8710, 1, 8197, 8806, 8806, 20, 30, 8803, 40, 50, 8803];

    public static string ModelDir => TinyModels.Get("grad", TinyModels.Small with { Layers = 3 });

    /// <summary>The sequence as one batch row in which every position from the image slot on predicts its next token.</summary>
    public static ForwardBatch PredictingBatch() =>
        ForwardBatch.Single(Tokens) with { LogitIndices = Enumerable.Range(6, Tokens.Length - 7).ToArray() };

    /// <summary>The next token of each of <paramref name="batch"/>'s logit rows.</summary>
    public static int[] TargetsOf(ForwardBatch batch) => batch.LogitIndices.Select(i => Tokens[i + 1]).ToArray();
}
