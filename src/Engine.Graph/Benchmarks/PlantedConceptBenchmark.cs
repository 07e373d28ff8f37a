using System.Diagnostics;
using System.Globalization;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>
/// How well the training recovers a concept, measured without real photos or weights: the teacher is the frozen model
/// plus a hidden concept drawn at random (<see cref="HiddenConcept"/>); its samples on the training prompt, as token
/// sequences, are the "photos"; the methods of <see cref="PlantedConceptSettings.Methods"/> are trained on them by the
/// engine's trainer (CoAR: LMCL alone, + DPP, + DPP + CASR; LoRA on q/k/v; textual inversion; PersonalAR's stage 2
/// with full q/k/v or LoRA, continuing the textual-inversion [V]); then, on prompts and seeds the training never saw,
/// each is compared with the teacher (NLL gap and KL on the teacher's samples) and with the frozen model where the
/// placeholder is absent (drift), trained weights on the model in both, and what training it cost is kept. A second
/// planted concept is learned the same way and both are composed in one prompt, with the identity mask and without.
/// Runs on any checkpoint the engine loads, with the same code.
/// </summary>
public static class PlantedConceptBenchmark
{
    public const string Frozen = "frozen model (no concept)";
    public const string Teacher = "teacher (the planted concept)";
    public const string Lmcl = "LMCL";
    public const string LmclDpp = "LMCL + DPP";
    public const string LmclDppCasr = "LMCL + DPP + CASR";
    public const string LoraQkv = "LoRA (q/k/v)";
    public const string TextualInversion = "textual inversion";
    public const string PersonalArFull = "PersonalAR (TI + full q/k/v)";
    public const string PersonalArLora = "PersonalAR (TI + LoRA q/k/v)";
    public const string Both = "both learned";
    public const string FirstOnly = "first learned, second absent";
    public const string SecondOnly = "second learned, first absent";
    public const string Neither = "neither (frozen model)";
    public const string NoAid = "neither";
    public const string MaskAlone = "identity mask alone";
    public const string IndexAlone = "index embeddings alone";
    public const string MaskAndIndex = "both";

    private const string FirstPlaceholder = "[V]", SecondPlaceholder = "[W]";

    /// <summary>Pure conditional samples from a model: no guidance, no top-k truncation, temperature 1.</summary>
    public static SamplingSettings Sampling { get; } = new(Cfg: 1f, ImageTopK: 0, Temperature: 1f);

    /// <param name="workDir">Where the frozen model's class images for DPP are cached.</param>
    public static PlantedConceptReport Run(CoarEngine engine, PlantedConceptSettings settings, string workDir, IProgress<string>? log = null,
        CancellationToken cancellation = default)
    {
        settings.Validate();
        var clock = Stopwatch.StartNew();
        var first = settings.Training(settings.ClassNoun, FirstPlaceholder).Resolve(engine.Model.Config, engine.Prompt).Settings;
        int depth = first.EffectiveDepth, size = first.Resolution!.Value, d = engine.Model.Config.HiddenSize;
        log?.Report($"planted concept: depth {depth}, {settings.Photos} teacher samples at {size} px, {settings.Steps} steps per concept");

        var classImages = ClassImages(engine, first, workDir, log, cancellation);
        var (mean, std) = HiddenConcept.LayerStatistics(engine, first.ClassPrompt, classImages, depth);
        var planted = HiddenConcept.Draw(FirstPlaceholder, settings.ClassNoun, depth, first.TextSlots, first.ImageSlots, d, mean, std, settings.Strength, settings.Seed * 7919 + 1);

        log?.Report($"sampling {settings.Photos} training images from the teacher (\"{first.SubjectPrompt}\")");
        var photos = Sample(engine, first.SubjectPrompt, [planted], true, TrainSeeds(settings), size, cancellation);

        var trained = new List<Learned>();
        var costs = new List<MethodCost>();
        var adapters = new List<IDisposable>();
        try
        {
            if (settings.Methods.HasFlag(PlantedMethods.Coar))
            {
                var variants = new List<(string Name, TrainingSettings Settings)>();
                if (settings.Ablation)
                {
                    variants.Add((Lmcl, first with { Dpp = false, Casr = false }));
                    variants.Add((LmclDpp, first with { Casr = false }));
                }
                variants.Add((LmclDppCasr, first));
                foreach (var (name, s) in variants)
                {
                    log?.Report($"training {name}");
                    var coar = Train(engine, s, photos, classImages, workDir, name, cancellation);
                    costs.Add(coar.Cost);
                    trained.Add(new Learned(name, FirstPlaceholder, coar.Concept, null));
                }
            }
            var pending = new List<(string Name, string Placeholder, Trained Result)>();
            if (settings.Methods.HasFlag(PlantedMethods.Lora))
            {
                var s = settings.Lora(first);
                log?.Report($"training {LoraQkv}, rank {s.EffectiveLoraRank}");
                var lora = Train(engine, s, photos, classImages, workDir, LoraQkv, cancellation);
                costs.Add(lora.Cost);
                pending.Add((LoraQkv, s.Placeholder, lora));
            }
            if ((settings.Methods & (PlantedMethods.TextualInversion | PlantedMethods.PersonalAr)) != 0)
            {
                // PersonalAR's stage 2 continues the textual-inversion [V]: stage 1 is trained once for all of them.
                var stage1 = settings.TextualInversion(FirstPlaceholder);
                log?.Report($"training {TextualInversion} (PersonalAR's stage 1)");
                var inverted = Train(engine, stage1, photos, classImages, workDir, TextualInversion, cancellation);
                costs.Add(inverted.Cost);
                trained.Add(new Learned(TextualInversion, FirstPlaceholder, inverted.Concept, null));
                foreach (var (flag, weights, name) in new[] { (PlantedMethods.PersonalArFull, WeightTraining.Full, PersonalArFull), (PlantedMethods.PersonalArLora, WeightTraining.Lora, PersonalArLora) })
                {
                    if (!settings.Methods.HasFlag(flag)) continue;
                    var s = settings.PersonalArStage2(stage1, weights);
                    log?.Report($"training {name}: PersonalAR's stage 2, {s.Steps} steps at lr {s.LearningRate.ToString("0.##e0", CultureInfo.InvariantCulture)}");
                    var result = Train(engine, s, photos, classImages, workDir, name, cancellation, start: inverted.Concept);
                    costs.Add(result.Cost);
                    pending.Add((name, FirstPlaceholder, result));
                }
            }
            // The trained weights go on the model only for scoring (training weights needs the plain base model).
            foreach (var (name, placeholder, result) in pending)
            {
                IProjectionAdapter adapter = result.Lora is { } lora
                    ? new LoraProjections(engine.Backend, [lora])
                    : new DeltaProjections(engine.Backend, result.Deltas ?? throw new InvalidOperationException($"{name} trained no weights"));
                adapters.Add((IDisposable)adapter);
                trained.Add(new Learned(name, placeholder, result.Concept, adapter));
            }
            trained.Sort((a, b) => Order(a.Name).CompareTo(Order(b.Name)));

            using var scorer = new ConceptScorer(engine);
            string Fill(string template, string placeholder) => template.Replace("{placeholder}", placeholder).Replace("{class}", settings.ClassNoun);
            var heldOut = new Dictionary<string, Averages>();
            foreach (var name in new[] { Frozen }.Concat(trained.Select(t => t.Name))) heldOut[name] = new Averages();
            log?.Report($"held out: {settings.HeldOutTemplates.Count} prompts x {settings.HeldOutSeeds} seeds from the teacher");
            foreach (var template in settings.HeldOutTemplates)
            {
                var teacherCondition = new ConceptScorer.Condition(Fill(template, FirstPlaceholder), [planted]);
                foreach (var image in Sample(engine, teacherCondition.Caption, [planted], true, HeldOutSeeds(settings), size, cancellation))
                {
                    heldOut[Frozen].Add(scorer.Compare(teacherCondition, ConceptScorer.Condition.Frozen(Fill(template, "the")), image));
                    foreach (var t in trained)
                        heldOut[t.Name].Add(scorer.Compare(teacherCondition, t.Condition(Fill(template, t.Placeholder)), image));
                }
            }

            var drift = new Dictionary<string, Averages>();
            foreach (var name in new[] { Teacher }.Concat(trained.Select(t => t.Name))) drift[name] = new Averages();
            log?.Report($"drift: {settings.DriftPrompts.Count} prompts x {settings.HeldOutSeeds} seeds from the frozen model");
            foreach (var prompt in settings.DriftPrompts.Select(p => p.Replace("{class}", settings.ClassNoun)))
            {
                var frozen = ConceptScorer.Condition.Frozen(prompt);
                foreach (var image in Sample(engine, prompt, [], true, HeldOutSeeds(settings), size, cancellation))
                {
                    drift[Teacher].Add(scorer.Compare(frozen, new ConceptScorer.Condition(prompt, [planted]), image));
                    foreach (var t in trained)
                        drift[t.Name].Add(scorer.Compare(frozen, t.Condition(prompt), image));
                }
            }

            var fidelity = new List<FidelityRow>
            {
                new(Frozen, heldOut[Frozen].Gap, heldOut[Frozen].Kl, 0),
                new(Teacher, 0, 0, drift[Teacher].Kl),
            };
            fidelity.AddRange(trained.Select(t => new FidelityRow(t.Name, heldOut[t.Name].Gap, heldOut[t.Name].Kl, drift[t.Name].Kl)));
            costs.Sort((a, b) => Order(a.Variant).CompareTo(Order(b.Variant)));

            List<CompositionRow> composition = [];
            List<CompositionAidRow> aids = [];
            if (settings.Composition)
            {
                var learnedFirst = trained.Single(t => t.Name == LmclDppCasr).Concept!;
                (composition, aids) = Compose(engine, settings, first, planted, learnedFirst, photos, classImages, mean, std, size, workDir, scorer, log, cancellation);
            }
            return new PlantedConceptReport(settings, engine.Fingerprint, engine.Backend.Name, depth, heldOut[Frozen].Targets, drift[Teacher].Targets,
                fidelity, composition, clock.Elapsed.TotalSeconds) { Aids = aids, Costs = costs };
        }
        finally
        {
            foreach (var adapter in adapters) adapter.Dispose();
        }
    }

    /// <summary>The rows' order: CoAR's variants, LoRA, textual inversion, then PersonalAR after its stage 1.</summary>
    private static int Order(string name) => Array.IndexOf(RowOrder, name);

    private static readonly string[] RowOrder = [Lmcl, LmclDpp, LmclDppCasr, LoraQkv, TextualInversion, PersonalArFull, PersonalArLora];

    /// <summary>A trained method as it is scored: its prompt identifier, its concept (bound where the identifier is), its weights on the model.</summary>
    private sealed record Learned(string Name, string Placeholder, Concept? Concept, IProjectionAdapter? Adapter)
    {
        public ConceptScorer.Condition Condition(string caption) => new(caption, Concept is null ? [] : [Concept], Adapter: Adapter);
    }

    /// <summary>What one training run left: its concept (if it trains one), its LoRA adapter or weight changes (if it trains weights), its cost.</summary>
    private sealed record Trained(Concept? Concept, LoraAdapter? Lora, WeightDeltas? Deltas, MethodCost Cost);

    /// <summary>
    /// A second planted concept learned alone, then both in one prompt, with the identity mask and without; with
    /// <see cref="PlantedConceptSettings.IndexEmbeddings"/>, both learned again with index embeddings and the aids compared.
    /// </summary>
    private static (List<CompositionRow> Rows, List<CompositionAidRow> Aids) Compose(CoarEngine engine, PlantedConceptSettings settings,
        TrainingSettings first, Concept plantedFirst, Concept learnedFirst, List<TrainingExample> firstPhotos, List<TrainingExample> firstClassImages,
        float[] mean, float[] std, int size, string workDir, ConceptScorer scorer, IProgress<string>? log, CancellationToken cancellation)
    {
        var second = settings.Training(settings.SecondClassNoun, SecondPlaceholder).Resolve(engine.Model.Config, engine.Prompt).Settings;
        int depth = first.EffectiveDepth, d = engine.Model.Config.HiddenSize;
        var plantedSecond = HiddenConcept.Draw(SecondPlaceholder, settings.SecondClassNoun, depth, second.TextSlots, second.ImageSlots, d, mean, std, settings.Strength, settings.Seed * 7919 + 2);
        log?.Report($"composition: training \"{second.SubjectPrompt}\" on its own teacher's samples");
        var photos = Sample(engine, second.SubjectPrompt, [plantedSecond], true, TrainSeeds(settings), size, cancellation);
        var secondClassImages = ClassImages(engine, second, workDir, log, cancellation);
        var learnedSecond = Train(engine, second, photos, secondClassImages, workDir, "second", cancellation).Concept!;

        string Fill(string template, string a, string b) => template.Replace("{first}", a).Replace("{second}", b)
            .Replace("{class1}", settings.ClassNoun).Replace("{class2}", settings.SecondClassNoun);
        var rows = new List<CompositionRow>();
        foreach (bool mask in new[] { true, false })
        {
            var means = new[] { Both, FirstOnly, SecondOnly, Neither }.ToDictionary(n => n, _ => new Averages());
            foreach (var template in settings.CompositionTemplates)
            {
                var teacher = new ConceptScorer.Condition(Fill(template, FirstPlaceholder, SecondPlaceholder), [plantedFirst, plantedSecond], mask);
                foreach (var image in Sample(engine, teacher.Caption, teacher.Concepts, mask, HeldOutSeeds(settings), size, cancellation))
                {
                    means[Both].Add(scorer.Compare(teacher, teacher with { Concepts = [learnedFirst, learnedSecond] }, image));
                    means[FirstOnly].Add(scorer.Compare(teacher, new(Fill(template, FirstPlaceholder, "a"), [learnedFirst], mask), image));
                    means[SecondOnly].Add(scorer.Compare(teacher, new(Fill(template, "a", SecondPlaceholder), [learnedSecond], mask), image));
                    means[Neither].Add(scorer.Compare(teacher, ConceptScorer.Condition.Frozen(Fill(template, "a", "a")), image));
                }
            }
            rows.AddRange(means.Select(m => new CompositionRow(m.Key, mask, m.Value.Gap, m.Value.Kl)));
        }
        if (!settings.IndexEmbeddings) return (rows, []);

        log?.Report("composition aids: both concepts learned again with token-index embeddings");
        var indexedFirst = Train(engine, first with { IndexEmbedding = true }, firstPhotos, firstClassImages, workDir, "first indexed", cancellation).Concept!;
        var indexedSecond = Train(engine, second with { IndexEmbedding = true }, photos, secondClassImages, workDir, "second indexed", cancellation).Concept!;
        var aids = new (string Name, bool Mask, bool Index)[] { (NoAid, false, false), (MaskAlone, true, false), (IndexAlone, false, true), (MaskAndIndex, true, true) };
        var aidMeans = aids.ToDictionary(a => a.Name, _ => new Averages());
        foreach (var template in settings.CompositionTemplates)
        {
            var teacher = new ConceptScorer.Condition(Fill(template, FirstPlaceholder, SecondPlaceholder), [plantedFirst, plantedSecond], IdentityMask: true);
            foreach (var image in Sample(engine, teacher.Caption, teacher.Concepts, true, HeldOutSeeds(settings), size, cancellation))
                foreach (var (name, mask, index) in aids)
                {
                    Concept[] concepts = index ? [indexedFirst, indexedSecond] : [learnedFirst, learnedSecond];
                    aidMeans[name].Add(scorer.Compare(teacher, teacher with { Concepts = concepts, IdentityMask = mask, IndexEmbeddings = index }, image));
                }
        }
        return (rows, aids.Select(a => new CompositionAidRow(a.Name, a.Mask, a.Index, aidMeans[a.Name].Gap, aidMeans[a.Name].Kl)).ToList());
    }

    private static List<TrainingExample> ClassImages(CoarEngine engine, TrainingSettings s, string workDir, IProgress<string>? log, CancellationToken cancellation)
    {
        var key = TrainingJob.ClassImageKey(engine, s);
        return TrainingData.ClassImages(engine, key, s.ClassImages, TrainingData.ClassImageDirectory(workDir, s.ClassNoun, key), log, cancellation);
    }

    /// <summary>
    /// Trains one method on the teacher's samples (continuing <paramref name="start"/> if given), writes its outputs as
    /// `coar train` does to measure their size, and keeps what was trained.
    /// </summary>
    private static Trained Train(CoarEngine engine, TrainingSettings s, List<TrainingExample> photos, List<TrainingExample> classImages, string workDir,
        string name, CancellationToken cancellation, Concept? start = null)
    {
        using var trainer = new ConceptTrainer(engine, s, TrainingImages.FromExamples(photos), s.Dpp ? classImages : [], start: start);
        trainer.Initialize();
        var stepSeconds = TimedTrain(trainer, cancellation);
        // A concept alone is one file; trained weights (with or without a concept) are a directory.
        string output = Path.Combine(workDir, $"learned-{trainer.Step}-{Guid.NewGuid():N}" + (trainer.Weights is null ? ".safetensors" : ""));
        trainer.SaveConcept(output);
        long bytes;
        if (Directory.Exists(output))
        {
            bytes = Directory.GetFiles(output, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            Directory.Delete(output, recursive: true);
        }
        else
        {
            bytes = new FileInfo(output).Length;
            File.Delete(output);
        }
        var cost = new MethodCost(name, trainer.Parameters, bytes, stepSeconds, PlannedBytes(trainer.MemoryPlan))
        {
            Steps = trainer.Step, LearningRate = trainer.Settings.LearningRate,
        };
        return new Trained(trainer.HasConcept ? trainer.Concept.Clone() : null, trainer.Lora, (trainer.Weights as TrainedWeights.Full)?.Deltas, cost);
    }

    /// <summary>Trains to the last step; the median step time in seconds.</summary>
    private static double TimedTrain(ConceptTrainer trainer, CancellationToken cancellation)
    {
        var times = new List<double>();
        trainer.Train(progress: new SynchronousProgress(p => times.Add(p.StepTime.TotalSeconds)), cancellation: cancellation);
        return times.Count == 0 ? double.NaN : times.Order().ElementAt(times.Count / 2);
    }

    private static long PlannedBytes(TrainingPlan plan) => plan.ActivationBytes + plan.KvCacheBytes + plan.AdapterBytes;

    private sealed class SynchronousProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    private static ulong[] TrainSeeds(PlantedConceptSettings s) =>
        Enumerable.Range(0, s.Photos).Select(i => (ulong)s.Seed * 1_000_000 + (ulong)i).ToArray();

    // Far from every training seed.
    private static ulong[] HeldOutSeeds(PlantedConceptSettings s) =>
        Enumerable.Range(0, s.HeldOutSeeds).Select(i => (ulong)s.Seed * 1_000_000 + 500_000 + (ulong)i).ToArray();

    /// <summary>Image token sequences drawn from the model with these concepts bound into the caption.</summary>
    private static List<TrainingExample> Sample(CoarEngine engine, string caption, IReadOnlyList<Concept> concepts, bool identityMask, ulong[] seeds,
        int size, CancellationToken cancellation)
    {
        var layout = ImageLayout.For(size, size, engine.Prompt.Vocabulary.ToImageTokenIds());
        var prompts = seeds.Select(seed => new ImagePrompt(caption, size, size, seed, Sampling) { Concepts = concepts, IdentityMask = identityMask }).ToList();
        var samples = new List<TrainingExample>();
        foreach (var chunk in prompts.Chunk(engine.LargestBatch(size, size, guided: false, cap: 8)))
            foreach (var image in engine.Generate(chunk, cancellation: cancellation))
                samples.Add(new TrainingExample($"{caption} #{image.Prompt.Seed}", layout, image.Tokens));
        return samples;
    }

    /// <summary>Target-weighted means of NLL gap and KL over scored images.</summary>
    private sealed class Averages
    {
        private double _gap, _kl;

        public int Targets { get; private set; }
        public double Gap => Targets == 0 ? double.NaN : _gap / Targets;
        public double Kl => Targets == 0 ? double.NaN : _kl / Targets;

        public void Add(ConceptScorer.Score s)
        {
            _gap += (s.CandidateNll - s.ReferenceNll) * s.Targets;
            _kl += s.Kl * s.Targets;
            Targets += s.Targets;
        }
    }
}
