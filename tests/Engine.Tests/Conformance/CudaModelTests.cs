using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Backends.Cpu;
using CoAR.Engine.Managed.Conformance;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Tests.Cpu;
using CoAR.Engine.Tests.Model;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Conformance;

/// <summary>
/// The tiny model end to end on the CUDA backend (a GPU, or the CoAR CUDA stand-in) against the CPU backend: the
/// logits of a prefill and of a decode step, the tokens of a guided generation (<see cref="GuidedTokensCheck"/>), and the whole-model gradient of
/// context tokens, on <see cref="TinyModels.Cuda"/>.
/// </summary>
[NonParallelizable]
public class CudaModelTests
{
    // bf16 activations through three layers against fp32 ones; a wrong kernel gives an NMSE near 1.
    private const double LogitNmse = 2e-3;

    private static string Checkpoint => TinyModels.Cuda;

    [Test]
    public void TinyModelLogitsMatchTheCpuForPrefillAndADecodeStep()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        using var cpuModel = ChameleonModel.Load(Checkpoint, new CpuBackend());
        using var cudaModel = ChameleonModel.Load(Checkpoint, cuda);
        using var cpuCache = cpuModel.CreateCache(2, 16);
        using var cudaCache = cudaModel.CreateCache(2, 16);

        var prefill = ForwardBatch.Packed([[0, 8900, 8950, 8990, 8710, 8197], [0, 8901, 8710]]);
        AssertClose(Logits(cpuModel, prefill, cpuCache), Logits(cudaModel, prefill, cudaCache), "prefill");

        var step = ForwardBatch.Packed([[8804], [8805]], starts: [6, 3]);
        AssertClose(Logits(cpuModel, step, cpuCache), Logits(cudaModel, step, cudaCache), "decode step");
    }

    [Test]
    public void GuidedGenerationDrawsTheCpusTokens()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        using var cpuModel = ChameleonModel.Load(Checkpoint, new CpuBackend());
        using var cudaModel = ChameleonModel.Load(Checkpoint, cuda);
        // Two images in one batch (two conditional and two unconditional rows), each drawing its top token: CFG,
        // the layout constraints, the KV cache's decode steps and the sampler are all on the path.
        var settings = new SamplingSettings(Cfg: 3f, ImageTopK: 1, Temperature: 1f);
        var layout = ImageLayout.For(64, 32);
        ImageTokenRequest[] requests =
        [
            new([0, 8900, 8950, 8990, 8710], layout, 5, settings),
            new([0, 8901, 8710], layout, 6, settings),
        ];

        var generated = new ImageTokenGenerator(cudaModel).Generate(requests);

        for (int i = 0; i < requests.Length; i++)
            GuidedTokensCheck.AssertTheCpusUpToNearTies(requests[i].PromptTokens, generated[i].Tokens, layout, settings.Cfg, cpuModel, cudaModel, $"image {i}");
    }

    [Test]
    public void SampledImageTokensAreStructurallyValid()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        using var model = ChameleonModel.Load(Checkpoint, cuda);
        var layout = ImageLayout.For(64, 32);
        var request = new ImageTokenRequest([0, 8900, 8950, 8990, 8710], layout, 3, new SamplingSettings(4f, 2000, 1f));

        var tokens = new ImageTokenGenerator(model).Generate([request])[0].Tokens;

        Assert.That(tokens, Has.Length.EqualTo(layout.SequenceLength));
        Assert.That(tokens[..3], Is.EqualTo(layout.Header), "start, height, width");
        int lw = layout.LatentWidth, lh = layout.LatentHeight;
        for (int row = 0; row < lh; row++)
        {
            for (int x = 0; x < lw; x++)
                Assert.That(tokens[3 + row * (lw + 1) + x], Is.InRange(4, 8195), $"code at row {row} col {x}");
            Assert.That(tokens[3 + row * (lw + 1) + lw], Is.EqualTo(8803), $"new line ending row {row}");
        }
        Assert.That(tokens[^2..], Is.EqualTo(new[] { 8196, 8710 }), "end of image, end of turn");
    }

    [Test]
    public void ContextTokenGradientMatchesTheCpu()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        var cpu = new CpuBackend();
        var expected = ContextGradient(cpu);
        var actual = ContextGradient(cuda);

        Assert.That(actual.All(double.IsFinite), Is.True, "NaN or Inf in the CUDA gradient");
        Assert.That(expected.Max(Math.Abs), Is.GreaterThan(1e-4), "the context tokens influence the loss");
        // bf16 activations forward and back through three layers; a wrong backward kernel gives an NMSE near 1.
        Assert.That(Nmse(expected, actual), Is.LessThan(1e-2));
    }

    [Test]
    public void IndexEmbeddingGradientMatchesTheCpu()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        var expected = ContextGradient(new CpuBackend(), withIndex: true);
        var actual = ContextGradient(cuda, withIndex: true);
        int d = expected.Length / 4;
        Assert.That(actual.All(double.IsFinite), Is.True, "NaN or Inf in the CUDA gradient");
        Assert.That(expected[(3 * d)..].Max(Math.Abs), Is.GreaterThan(1e-4), "the index vector influences the loss");
        // The added vector (F32 rows added into bf16 states) and its gradient, gathered where it is added.
        Assert.That(Nmse(expected[(3 * d)..], actual[(3 * d)..]), Is.LessThan(1e-2));
        Assert.That(Nmse(expected, actual), Is.LessThan(1e-2));
    }

    [Test]
    public void FullFineTuningGradientMatchesTheCpu()
    {
        using var cuda = CudaTestBackend.CreateOrIgnore();
        var expected = WeightChangeGradient(new CpuBackend());
        var actual = WeightChangeGradient(cuda);
        Assert.That(actual.All(double.IsFinite), Is.True, "NaN or Inf in the CUDA gradient");
        Assert.That(expected.Max(Math.Abs), Is.GreaterThan(1e-5), "the weights influence the loss");
        // The F32 weight changes run beside the bf16 weights forward (MatMul) and back (WeightGradient, MatMulInputGrad).
        Assert.That(Nmse(expected, actual), Is.LessThan(1e-2));
    }

    /// <summary>The gradient of the next-token loss w.r.t. non-zero F32 changes of q, v and down of layers 0 and 1 (full fine-tuning).</summary>
    private static double[] WeightChangeGradient(IBackend backend)
    {
        int[] tokens = [0, 8900, 8950, 1, 8990, 8710, 1, 8197, 8806, 8806, 20, 30, 8803, 40, 50, 8803];
        using var model = ChameleonModel.Load(Checkpoint, backend);
        int d = model.Config.HiddenSize;
        var deltas = WeightDeltas.Create(model.Config, [Projection.Q, Projection.V, Projection.Down], [0, 1]);
        var rng = new Random(9);
        foreach (var change in deltas.All)
            for (int i = 0; i < change.Values.Length; i++) change.Values[i] = (float)(rng.NextDouble() * 2 - 1) * 0.02f;
        using var changes = new DeltaProjections(backend, deltas, trainable: true);
        model.Adapter = changes;
        var batch = ForwardBatch.Single(tokens) with { LogitIndices = Enumerable.Range(6, tokens.Length - 7).ToArray() };
        var targets = batch.LogitIndices.Select(i => tokens[i + 1]).ToArray();
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, tokens.Length);
        using var dHidden = backend.Allocate(DType.F32, [batch.LogitIndices.Length, d]);
        using var saved = new TrainingActivations(backend, model.Config, batch, ActivationMode.Keep);
        loss.Compute(model.ForwardHidden(batch, cache, save: saved), targets, 1f, null, 0f, dHidden);
        model.Backward(saved, cache, dHidden, null);
        var gradient = new float[deltas.Parameters];
        changes.DownloadGradients(gradient);
        model.Adapter = null;
        return gradient.Select(v => (double)v).ToArray();
    }

    /// <summary>
    /// The gradient of the next-token loss with respect to a context table injected at a text slot (token 3, depth 2)
    /// and an image slot (token 6, depth 1) under identity tags: forward with saved activations, the output loss,
    /// and the backward through every layer (attention, norms, MLP, RoPE, the KV cache) into the table. With
    /// <paramref name="withIndex"/>, a fourth row is added (an index embedding) at layer 0 to tokens 3, 4, 6 and 9.
    /// </summary>
    private static double[] ContextGradient(IBackend backend, bool withIndex = false)
    {
        int[] tokens = [0, 8900, 8950, 1, 8990, 8710, 1, 8197, 8806, 8806, 20, 30, 8803, 40, 50, 8803];
        using var model = ChameleonModel.Load(Checkpoint, backend);
        int d = model.Config.HiddenSize;
        var tags = new int[tokens.Length];
        (tags[3], tags[6]) = (1, 1);
        var batch = ForwardBatch.Single(tokens) with
        {
            Tags = tags,
            LogitIndices = Enumerable.Range(6, tokens.Length - 7).ToArray(),
            Injections =
            [
                new ContextInjection(3, 0, 1, 2), new ContextInjection(6, 2, 1, 1),
                .. (withIndex ? new[] { 3, 4, 6, 9 } : []).Select(t => new ContextInjection(t, 3, 0, 1) { Add = true }),
            ],
        };
        int rows = withIndex ? 4 : 3;
        var targets = batch.LogitIndices.Select(i => tokens[i + 1]).ToArray();
        var rng = new Random(3);
        using var table = GradCheck.NewTensor(backend, Enumerable.Range(0, rows * d).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), rows, d);
        using var loss = new OutputLoss(model, chunkRows: 4);
        using var cache = model.CreateCache(1, tokens.Length);
        using var dHidden = backend.Allocate(DType.F32, [batch.LogitIndices.Length, d]);
        using var saved = new TrainingActivations(backend, model.Config, batch, ActivationMode.Recompute);
        var hidden = model.ForwardHidden(batch, cache, contextTable: table, save: saved);
        loss.Compute(hidden, targets, 1f, null, 0f, dHidden);
        using var grad = backend.Allocate(DType.F32, [rows, d]);
        backend.Zero(grad);
        model.Backward(saved, cache, dHidden, grad);
        return GradCheck.ReadDouble(backend, grad);
    }

    private static float[] Logits(ChameleonModel model, ForwardBatch batch, KvCache cache)
    {
        var logits = model.Forward(batch, cache);
        var host = new float[logits.ElementCount];
        model.Backend.Download<float>(logits, host);
        return host;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        Assert.That(actual.All(float.IsFinite), Is.True, $"{what}: NaN or Inf in the CUDA logits");
        double nmse = ConformanceRunner.Nmse(expected, actual);
        TestContext.Out.WriteLine($"{what}: logits NMSE {nmse:E2}");
        Assert.That(nmse, Is.LessThan(LogitNmse), what);
    }

    private static double Nmse(double[] expected, double[] actual)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            num += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            den += expected[i] * expected[i];
        }
        return num / den;
    }
}
