using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;
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

    /// <summary>The logits of <see cref="PredictingBatch"/> on <paramref name="model"/> as it runs now (its adapter included).</summary>
    public static float[] Logits(ChameleonModel model)
    {
        using var cache = model.CreateCache(1, Tokens.Length);
        var logits = model.Forward(PredictingBatch(), cache);
        var values = new float[logits.ElementCount];
        model.Backend.Download<float>(logits, values);
        return values;
    }

    /// <summary>
    /// The gradient of trained weights (LoRA's A and B, or full weights' changes) through the whole model on
    /// <see cref="PredictingBatch"/>, against finite differences of the loss: set as the model's adapter, one forward
    /// and backward for the analytic gradient, then the loss at nudged values.
    /// </summary>
    public static void AssertWeightGradientsMatchFiniteDifferences(ChameleonModel model, TrainedWeights weights, ActivationMode mode, string what, int maxElements)
    {
        var backend = model.Backend;
        model.Adapter = weights.Device;
        var batch = PredictingBatch();
        var targets = TargetsOf(batch);
        int d = model.Config.HiddenSize;
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, Tokens.Length);
        using var dHidden = backend.Allocate(DType.F32, [batch.LogitIndices.Length, d]);
        using var contextGrad = backend.Allocate(DType.F32, [1, d]);

        var values = new float[weights.Parameters];
        weights.CopyTo(values);
        using var saved = new TrainingActivations(backend, model.Config, batch, mode);
        loss.Compute(model.ForwardHidden(batch, cache, save: saved), targets, 1f, null, 0f, dHidden);
        model.Backward(saved, cache, dHidden, contextGrad);
        var analytic = new float[weights.Parameters];
        weights.DownloadGradients(analytic);

        double Loss(double[] v)
        {
            weights.SetValues(v.Select(x => (float)x).ToArray());
            return loss.Compute(model.ForwardHidden(batch, cache), targets, 1f, null, 0f, dHidden).CrossEntropy;
        }

        GradCheck.AssertMatches($"{what} ({mode})", values.Select(v => (double)v).ToArray(), Loss, analytic.Select(v => (double)v).ToArray(),
            new GradCheck.Options { MaxElements = maxElements, RelativeStep = 1, RelativeTolerance = 3e-2, ScaleTolerance = 3e-3 });
    }
}
