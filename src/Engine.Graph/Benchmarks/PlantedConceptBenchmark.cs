using System.Diagnostics;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Training;

namespace CoAR.Engine.Graph.Benchmarks;

/// <summary>
/// How well the training recovers a concept, measured without real photos or weights: the teacher is the frozen model
/// plus a hidden concept drawn at random (<see cref="HiddenConcept"/>); its samples on the training prompt, as token
/// sequences, are the "photos"; a concept is trained on them by the engine's trainer (LMCL alone, + DPP,
/// + DPP + CASR); then, on prompts and seeds the training never saw, each learned concept is compared with the teacher
/// (NLL gap and KL on the teacher's samples) and with the frozen model where the placeholder is absent (drift). A second
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

        var variants = new List<(string Name, TrainingSettings Settings)>();
        if (settings.Ablation)
        {
            variants.Add((Lmcl, first with { Dpp = false, Casr = false }));
            variants.Add((LmclDpp, first with { Casr = false }));
        }
        variants.Add((LmclDppCasr, first));
        var learned = new Dictionary<string, Concept>();
        var costs = new List<MethodCost>();
        foreach (var (name, s) in variants)
        {
            log?.Report($"training {name}");
            (learned[name], var cost) = Train(engine, s, photos, classImages, workDir, name, cancellation);
            costs.Add(cost);
        }
        LoraAdapter? lora = null;
        string loraIdentifier = TrainingSettings.LoraIdentifier;
        if (settings.LoraRank is { } rank)
        {
            log?.Report($"training {LoraQkv}, rank {rank}");
            var s = first.ForLora() with { Depth = null, LoraRank = rank };
            (lora, var cost) = TrainLora(engine, s, photos, classImages, workDir, cancellation);
            costs.Add(cost);
        }
        using var loraOnModel = lora is null ? null : new LoraProjections(engine.Backend, [lora]);

        using var scorer = new ConceptScorer(engine);
        string Fill(string template, string placeholder) => template.Replace("{placeholder}", placeholder).Replace("{class}", settings.ClassNoun);
        var heldOut = new Dictionary<string, Averages>();
        foreach (var name in new[] { Frozen }.Concat(learned.Keys).Concat(lora is null ? [] : [LoraQkv])) heldOut[name] = new Averages();
        log?.Report($"held out: {settings.HeldOutTemplates.Count} prompts x {settings.HeldOutSeeds} seeds from the teacher");
        foreach (var template in settings.HeldOutTemplates)
        {
            var teacherCondition = new ConceptScorer.Condition(Fill(template, FirstPlaceholder), [planted]);
            foreach (var image in Sample(engine, teacherCondition.Caption, [planted], true, HeldOutSeeds(settings), size, cancellation))
            {
                heldOut[Frozen].Add(scorer.Compare(teacherCondition, ConceptScorer.Condition.Frozen(Fill(template, "the")), image));
                foreach (var (name, concept) in learned)
                    heldOut[name].Add(scorer.Compare(teacherCondition, new ConceptScorer.Condition(teacherCondition.Caption, [concept]), image));
                if (loraOnModel is not null)
                    heldOut[LoraQkv].Add(scorer.Compare(teacherCondition, new ConceptScorer.Condition(Fill(template, loraIdentifier), [], Adapter: loraOnModel), image));
            }
        }

        var drift = new Dictionary<string, Averages>();
        foreach (var name in new[] { Teacher }.Concat(learned.Keys).Concat(lora is null ? [] : [LoraQkv])) drift[name] = new Averages();
        log?.Report($"drift: {settings.DriftPrompts.Count} prompts x {settings.HeldOutSeeds} seeds from the frozen model");
        foreach (var prompt in settings.DriftPrompts.Select(p => p.Replace("{class}", settings.ClassNoun)))
        {
            var frozen = ConceptScorer.Condition.Frozen(prompt);
            foreach (var image in Sample(engine, prompt, [], true, HeldOutSeeds(settings), size, cancellation))
            {
                drift[Teacher].Add(scorer.Compare(frozen, new ConceptScorer.Condition(prompt, [planted]), image));
                foreach (var (name, concept) in learned)
                    drift[name].Add(scorer.Compare(frozen, new ConceptScorer.Condition(prompt, [concept]), image));
                if (loraOnModel is not null)
                    drift[LoraQkv].Add(scorer.Compare(frozen, new ConceptScorer.Condition(prompt, [], Adapter: loraOnModel), image));
            }
        }

        var fidelity = new List<FidelityRow>
        {
            new(Frozen, heldOut[Frozen].Gap, heldOut[Frozen].Kl, 0),
            new(Teacher, 0, 0, drift[Teacher].Kl),
        };
        fidelity.AddRange(learned.Keys.Concat(lora is null ? [] : [LoraQkv]).Select(name => new FidelityRow(name, heldOut[name].Gap, heldOut[name].Kl, drift[name].Kl)));

        List<CompositionRow> composition = [];
        List<CompositionAidRow> aids = [];
        if (settings.Composition)
            (composition, aids) = Compose(engine, settings, first, planted, learned[LmclDppCasr], photos, classImages, mean, std, size, workDir, scorer, log, cancellation);
        return new PlantedConceptReport(settings, engine.Fingerprint, engine.Backend.Name, depth, heldOut[Frozen].Targets, drift[Teacher].Targets,
            fidelity, composition, clock.Elapsed.TotalSeconds) { Aids = aids, Costs = costs };
    }

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
        var (learnedSecond, _) = Train(engine, second, photos, secondClassImages, workDir, "second", cancellation);

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
        var (indexedFirst, _) = Train(engine, first with { IndexEmbedding = true }, firstPhotos, firstClassImages, workDir, "first indexed", cancellation);
        var (indexedSecond, _) = Train(engine, second with { IndexEmbedding = true }, photos, secondClassImages, workDir, "second indexed", cancellation);
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

    private static (Concept Concept, MethodCost Cost) Train(CoarEngine engine, TrainingSettings s, List<TrainingExample> photos,
        List<TrainingExample> classImages, string workDir, string name, CancellationToken cancellation)
    {
        using var trainer = new ConceptTrainer(engine, s, photos, classImages);
        trainer.Initialize();
        var steps = TimedTrain(trainer, cancellation);
        string file = Path.Combine(workDir, $"learned-{trainer.Step}-{Guid.NewGuid():N}.safetensors");
        trainer.SaveConcept(file);
        var cost = new MethodCost(name, trainer.Parameters, new FileInfo(file).Length, steps, PlannedBytes(trainer.MemoryPlan));
        File.Delete(file);
        return (trainer.Concept.Clone(), cost);
    }

    private static (LoraAdapter Adapter, MethodCost Cost) TrainLora(CoarEngine engine, TrainingSettings s, List<TrainingExample> photos,
        List<TrainingExample> classImages, string workDir, CancellationToken cancellation)
    {
        using var trainer = new ConceptTrainer(engine, s, photos, s.Dpp ? classImages : []);
        trainer.Initialize();
        var steps = TimedTrain(trainer, cancellation);
        string dir = Path.Combine(workDir, $"lora-{Guid.NewGuid():N}");
        trainer.SaveConcept(dir);
        long bytes = Directory.GetFiles(dir).Sum(f => new FileInfo(f).Length);
        Directory.Delete(dir, recursive: true);
        return (trainer.Lora!, new MethodCost(LoraQkv, trainer.Parameters, bytes, steps, PlannedBytes(trainer.MemoryPlan)));
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
