using System.Diagnostics;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>What a training-step benchmark runs: the concept training step of `coar train` at a resolution.</summary>
/// <param name="Resolution">Square image size in pixels (768: 2357 image-phase tokens).</param>
/// <param name="Layers">Injection depth; null: the model's layer count, at most the paper's 9.</param>
/// <param name="Dpp">One class-image pass per step (NTP + KL against the frozen model) besides the subject pass.</param>
/// <param name="Warmup">Untimed steps first (JIT, buffers).</param>
/// <param name="Steps">Timed steps.</param>
/// <param name="Method">
/// CoAR context tokens; textual inversion (the [V] embedding, no DPP); LoRA adapters of <paramref name="LoraRank"/> on
/// q/k/v of every layer; or PersonalAR's stage 2 (its costly stage: the embedding with <paramref name="Stage2"/>, full
/// q/k/v weights or LoRA on them, no DPP).
/// </param>
public sealed record TrainingBenchmarkSettings(int Resolution = 768, int? Layers = null, bool Dpp = true, int Warmup = 1, int Steps = 3,
    TrainingMethod Method = TrainingMethod.Coar, int LoraRank = 64, WeightTraining Stage2 = WeightTraining.Full);

/// <summary>
/// Step times of a training benchmark, in seconds: wall time of every timed step, the best and the median, and the
/// process's CPU time per step (all threads; on a machine shared with other work it shows the work done when wall
/// times are stretched by waiting for a core).
/// </summary>
public sealed record TrainingBenchmarkResult(string Device, int Resolution, int Layers, bool Dpp, int SequenceTokens, double[] StepSeconds,
    double[] CpuSeconds, string Method = "coar", int Parameters = 0)
{
    public double BestSeconds => StepSeconds.Min();
    public double MedianSeconds => StepSeconds.Order().ElementAt(StepSeconds.Length / 2);
}

/// <summary>
/// Times CoAR (or LoRA) training steps (subject pass, class pass with DPP, CASR, AdamW) on the loaded model with synthetic
/// images: random image codes in the real layout, fed as tokens, so no VQGAN encode and no class-image generation
/// precede the steps; each step costs what a step of `coar train` costs at that resolution.
/// </summary>
public static class TrainingBenchmark
{
    public static TrainingBenchmarkResult Run(CoarEngine engine, TrainingBenchmarkSettings s, IProgress<string>? log = null,
        Action? beforeTimedSteps = null)
    {
        if (s.Steps <= 0 || s.Warmup < 0) throw new ArgumentOutOfRangeException(nameof(s), "timed steps must be positive and warm-up steps not negative");
        int layers = s.Layers ?? Math.Min(9, engine.Model.Config.NumLayers);
        var ids = engine.Prompt.Vocabulary.ToImageTokenIds();
        var layout = ImageLayout.For(s.Resolution, s.Resolution, ids);
        var rng = new Random(1);
        TrainingExample Synthetic(string name) =>
            TrainingExample.FromCodes(name, layout, Enumerable.Range(0, layout.LatentWidth * layout.LatentHeight).Select(_ => rng.Next(ids.CodeCount)).ToArray());
        var settings = new TrainingSettings
        {
            ClassNoun = "toy", Depth = layers, Resolution = s.Resolution, Dpp = s.Dpp, Steps = s.Warmup + s.Steps, CheckpointEvery = 0,
        };
        var textualInversion = TrainingSettings.ForTextualInversion("toy") with { Resolution = s.Resolution, Steps = s.Warmup + s.Steps, CheckpointEvery = 0 };
        settings = s.Method switch
        {
            TrainingMethod.Lora => settings.ForLora() with { Depth = null, LoraRank = s.LoraRank },
            TrainingMethod.TextualInversion => textualInversion,
            TrainingMethod.PersonalAr => textualInversion.ForPersonalArStage2(s.Stage2) with
            {
                LoraRank = s.Stage2 == WeightTraining.Lora ? s.LoraRank : null, Steps = s.Warmup + s.Steps,
            },
            _ => settings,
        };
        layers = settings.Method == TrainingMethod.Coar ? layers : settings.Weights != WeightTraining.None ? engine.Model.Config.NumLayers : 1;
        bool dpp = settings.Dpp;
        using var trainer = new ConceptTrainer(engine, settings, [Synthetic("synthetic photo")], dpp ? [Synthetic("synthetic class image")] : []);
        trainer.Initialize();
        trainer.Train(s.Warmup);
        beforeTimedSteps?.Invoke();
        var times = new List<double>();
        var cpu = new List<double>();
        var process = Process.GetCurrentProcess();
        var cpuMark = process.TotalProcessorTime;
        trainer.Train(s.Warmup + s.Steps, new SynchronousProgress<TrainingProgress>(p =>
        {
            process.Refresh();
            var now = process.TotalProcessorTime;
            times.Add(p.StepTime.TotalSeconds);
            cpu.Add((now - cpuMark).TotalSeconds);
            cpuMark = now;
            log?.Report($"step {p.Step - s.Warmup}/{s.Steps}: {p.StepTime.TotalMilliseconds:F0} ms ({cpu[^1]:F2} CPU s)");
        }));
        string method = ConceptTrainer.MethodName(s.Method) + (s.Method == TrainingMethod.PersonalAr ? $" stage 2 ({s.Stage2.ToString().ToLowerInvariant()})" : "");
        return new TrainingBenchmarkResult(engine.Backend.Name, s.Resolution, layers, dpp, layout.SequenceLength, times.ToArray(), cpu.ToArray(),
            method, trainer.Parameters);
    }

    /// <summary>Reports on the calling thread, at once (Progress&lt;T&gt; posts to the thread pool and may report late).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
