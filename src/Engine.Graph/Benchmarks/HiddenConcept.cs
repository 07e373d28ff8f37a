using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>
/// The planted concept: a concept drawn at random where the model's own hidden states live, so that the frozen model
/// with it (the teacher) is a model a learned concept could match exactly. Every vector, text and image, at every
/// layer l, is mean[l] + strength * std[l] * z (per dimension, z standard normal), mean and std taken over the
/// image-code positions of frozen-model images at the input of layer l.
/// </summary>
public static class HiddenConcept
{
    /// <summary>Per-layer, per-dimension mean and standard deviation of the hidden state at the input of the first <paramref name="depth"/> layers.</summary>
    public static (float[] Mean, float[] Std) LayerStatistics(CoarEngine engine, string caption, IReadOnlyList<TrainingExample> images, int depth)
    {
        var model = engine.Model;
        int d = model.Config.HiddenSize;
        var sum = new double[depth * d];
        var squares = new double[depth * d];
        long count = 0;
        foreach (var image in images)
        {
            var prompt = engine.Prompt.Build(caption, image.Layout.WidthPx, image.Layout.HeightPx).Ids;
            int[] tokens = [.. prompt, .. image.ImageTokens];
            var codes = Enumerable.Range(prompt.Length, image.ImageTokens.Length).Where(i => image.Layout.Ids.IsCode(tokens[i])).ToArray();
            var capture = new LayerInputCapture(model.Backend, depth, codes);
            using var cache = model.CreateCache(1, tokens.Length);
            model.ForwardHidden(ForwardBatch.Single(tokens), cache, capture);
            for (int l = 0; l < depth; l++)
                for (int r = 0; r < codes.Length; r++)
                    for (int j = 0; j < d; j++)
                    {
                        double v = capture.Rows[l][r * d + j];
                        sum[l * d + j] += v;
                        squares[l * d + j] += v * v;
                    }
            count += codes.Length;
        }
        if (count == 0) throw new ArgumentException("no image-code positions to take statistics over");
        var mean = new float[depth * d];
        var std = new float[depth * d];
        for (int i = 0; i < mean.Length; i++)
        {
            double m = sum[i] / count;
            mean[i] = (float)m;
            std[i] = (float)Math.Sqrt(Math.Max(0, squares[i] / count - m * m));
        }
        return (mean, std);
    }

    /// <summary>A subject concept with the given tokens per layer drawn around the statistics (Box-Muller, seeded).</summary>
    public static Concept Draw(string placeholder, string classNoun, int depth, int textSlots, int imageSlots, int hidden, float[] mean, float[] std,
        float strength, int seed)
    {
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var concept = new Concept(ConceptKind.Subject, placeholder, classNoun, depth, textSlots, imageSlots, hidden);
        void Fill(Span<float> v, int layer)
        {
            for (int j = 0; j < hidden; j++)
                v[j] = (float)(mean[layer * hidden + j] + strength * std[layer * hidden + j] * Normal());
        }
        for (int l = 0; l < depth; l++)
        {
            for (int k = 0; k < textSlots; k++) Fill(concept.TextVector(l, k), l);
            for (int k = 0; k < imageSlots; k++) Fill(concept.ImageVector(l, k), l);
        }
        return concept;
    }
}
