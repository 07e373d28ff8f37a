using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.FineTuning;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Imaging;

namespace CoAR.Engine.Graph;

/// <summary>
/// The engine as a library: load a Lumina-mGPT checkpoint on a device, estimate memory, generate images. Owns the
/// backend, the model, the tokenizer and the VQGAN, and frees them on Dispose.
/// </summary>
public sealed class CoarEngine : IDisposable
{
    private CoarEngine(EngineParams parameters, BackendSelection device, ChameleonModel model, LuminaPrompt prompt, VqganModel vqgan)
    {
        Parameters = parameters;
        Device = device;
        Model = model;
        Prompt = prompt;
        Vqgan = vqgan;
        Generator = new ImageGenerator(model, prompt, vqgan);
        Fingerprint = ModelFingerprint.Compute(parameters.ModelDir);
    }

    public EngineParams Parameters { get; }
    public IBackend Backend => Device.Backend;

    /// <summary>How the device name became the backend: why "auto" ended on the CPU, the GPU's self-test.</summary>
    public BackendSelection Device { get; }

    public ChameleonModel Model { get; }
    public LuminaPrompt Prompt { get; }
    public VqganModel Vqgan { get; }
    public ImageGenerator Generator { get; }

    /// <summary>Identifies the base model (architecture + a sample of the embedding), for sidecars and concept files.</summary>
    public string Fingerprint { get; }

    /// <summary>How LoRA adapters are applied to this engine's generations: none, unmerged or merged.</summary>
    public LoraMode AppliedLora { get; private set; } = LoraMode.None;

    private LoraProjections? _unmergedLora;

    /// <summary>Whether fine-tuned projection weights replaced loaded ones (<see cref="ApplyProjections"/>).</summary>
    public bool AppliedProjections { get; private set; }

    /// <summary>
    /// Puts fine-tuned projection weights (e.g. PersonalAR's q/k/v, <see cref="FineTunedProjections.Load"/>) in place
    /// of the loaded ones for every later generation, once they are checked against the model
    /// (<see cref="FineTunedProjections.Weights.CheckFits"/>); the engine cannot go back to the base weights. Before any
    /// LoRA adapter, which then applies on top of them.
    /// </summary>
    public void ApplyProjections(FineTunedProjections.Weights weights)
    {
        if (AppliedLora != LoraMode.None)
            throw new InvalidOperationException("apply fine-tuned weights before LoRA adapters (the adapters go on top of them)");
        FineTunedProjections.Apply(Model, weights, Fingerprint);
        AppliedProjections = true;
    }

    /// <summary>
    /// Applies LoRA adapters (each checked against the model) to every later generation: unmerged, each adapted
    /// projection adds the adapters' low-rank terms per run and the weights stay as loaded; or merged, W += scale B A
    /// folded into the loaded weights once (no per-step cost; this engine cannot unmerge them). Once per engine.
    /// </summary>
    public LoraMode ApplyLora(IReadOnlyList<LoraAdapter> adapters, bool merge)
    {
        if (adapters.Count == 0) throw new ArgumentException("no LoRA adapter given", nameof(adapters));
        if (AppliedLora != LoraMode.None || Model.Adapter is not null)
            throw new InvalidOperationException("this engine already has LoRA adapters applied; load a new engine for other adapters");
        for (int i = 0; i < adapters.Count; i++) adapters[i].CheckFits(Model.Config, $"LoRA adapter {i + 1}");
        if (merge)
        {
            foreach (var adapter in adapters) LoraMerge.Into(Model, adapter);
            AppliedLora = LoraMode.Merged;
        }
        else
        {
            _unmergedLora = new LoraProjections(Backend, adapters);
            Model.Adapter = _unmergedLora;
            AppliedLora = LoraMode.Unmerged;
        }
        return AppliedLora;
    }


    public static CoarEngine Load(EngineParams parameters, IProgress<ModelLoadProgress>? progress = null, CancellationToken cancellation = default)
    {
        string dir = parameters.ModelDir;
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"model directory '{dir}' not found (expected config.json, model*.safetensors and tokenizer.json)");
        string tokenizerPath = Path.Combine(dir, "tokenizer.json");
        if (!File.Exists(tokenizerPath))
            throw new FileNotFoundException($"{dir}: no tokenizer.json (the checkpoint's text tokenizer)", tokenizerPath);
        var device = BackendFactory.Open(parameters.Device);
        var backend = device.Backend;
        ChameleonModel? model = null;
        VqganModel? vqgan = null;
        try
        {
            model = ChameleonModel.Load(dir, backend, progress, cancellation);
            var tokenizer = BpeTokenizer.Load(tokenizerPath);
            var vocabulary = new ChameleonVocabulary(model.Config.VocabularyMap.Count > 0 ? model.Config.VocabularyMap : tokenizer.Vocabulary,
                model.Config.VocabularyMap.Count > 0 ? Path.Combine(dir, "config.json") : tokenizerPath);
            var prompt = new LuminaPrompt(tokenizer, vocabulary, parameters.TargetSize);
            vqgan = VqganModel.Load(parameters.VqganDir ?? dir, backend);
            return new CoarEngine(parameters, device, model, prompt, vqgan);
        }
        catch
        {
            vqgan?.Dispose();
            model?.Dispose();
            backend.Dispose();
            throw;
        }
    }

    /// <summary>Memory to generate <paramref name="images"/> images of a size at once on this engine's backend.</summary>
    public MemoryEstimate EstimateMemory(int images, int width, int height, bool guided, int promptTokens = 128) =>
        MemoryEstimate.For(Model.Config, Model.Weights.Bytes, images, width, height, guided, promptTokens, Backend.ActivationType);

    /// <summary>
    /// The largest batch (at most <paramref name="cap"/>) whose KV cache and activations fit in the backend's free
    /// memory, keeping a tenth of it in reserve; at least 1.
    /// </summary>
    public int LargestBatch(int width, int height, bool guided, int cap, int promptTokens = 128)
    {
        var (free, _) = Backend.MemoryInfo();
        long budget = free - free / 10;
        int best = 1;
        for (int b = 2; b <= cap; b++)
        {
            var e = EstimateMemory(b, width, height, guided, promptTokens);
            if (e.KvCacheBytes + e.ActivationBytes > budget) break;
            best = b;
        }
        return best;
    }

    /// <summary>
    /// Plans a <see cref="GenerationScheduler"/>: as many guided images at once as fit in memory (at most
    /// <paramref name="maxImages"/>), each row long enough for a prompt of <paramref name="maxPromptTokens"/> tokens
    /// and an image of up to <paramref name="maxWidth"/> x <paramref name="maxHeight"/>.
    /// </summary>
    public SchedulerPlan PlanScheduler(int maxWidth, int maxHeight, int maxPromptTokens, int maxImages)
    {
        ImageLayout.For(maxWidth, maxHeight); // validates the size
        if (maxPromptTokens < 1) throw new ArgumentOutOfRangeException(nameof(maxPromptTokens), maxPromptTokens, "a prompt has at least one token");
        if (maxImages < 1) throw new ArgumentOutOfRangeException(nameof(maxImages), maxImages, "a batch holds at least one image");
        int images = LargestBatch(maxWidth, maxHeight, guided: true, cap: maxImages, maxPromptTokens);
        return SchedulerPlan.For(EstimateMemory(images, maxWidth, maxHeight, guided: true, maxPromptTokens), images, maxWidth, maxHeight, maxPromptTokens);
    }

    /// <summary>A continuous-batching scheduler on this engine (see <see cref="GenerationScheduler"/>); dispose it before the engine.</summary>
    public GenerationScheduler CreateScheduler(SchedulerPlan plan, int maxQueuedImages = int.MaxValue) =>
        new(Generator, plan, maxQueuedImages);

    /// <summary>
    /// An image for a prompt's <c>&lt;|image|&gt;</c> (<see cref="ImagePrompt.References"/>): center-cropped to its best
    /// size for this engine's target and VQGAN-encoded once, however many prompts use it.
    /// </summary>
    /// <param name="source">Names the image in errors and sidecars (a file name).</param>
    public ReferenceImage EncodeReference(RgbImage image, string source = "reference image") =>
        ReferenceImage.Encode(image, source, Prompt.TargetSize, Vqgan, Prompt.Vocabulary.ToImageTokenIds());

    /// <summary>Reads an image file (with the engine's decode limits) and encodes it as <see cref="EncodeReference(RgbImage, string)"/>.</summary>
    public ReferenceImage EncodeReference(string path) => EncodeReference(ImageFile.Load(path), path);

    public IReadOnlyList<GeneratedImage> Generate(IReadOnlyList<ImagePrompt> prompts,
        IProgress<GenerationProgress>? progress = null, CancellationToken cancellation = default) =>
        Generator.Generate(prompts, progress, cancellation);

    /// <summary>
    /// Trains a concept from image files (a subject's photos or a style's reference) and returns it, by the same path as
    /// `coar train` (<see cref="TrainingJob"/>): the settings are checked against this model first
    /// (<see cref="TrainingSettingException"/>), DPP's class images are made once and cached under
    /// <paramref name="workDir"/>, validation images (if the settings ask) go to workDir/validation. The resolution
    /// defaults to this engine's target size (<see cref="EngineParams.TargetSize"/>) and may not exceed it.
    /// </summary>
    /// <param name="log">Notes (a clamped depth), the effective settings and the memory plan, line by line.</param>
    public Concept TrainConcept(IReadOnlyList<string> imageFiles, TrainingSettings settings, string workDir,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default, IProgress<string>? log = null)
    {
        var outputs = new TrainingOutputs(workDir) { ValidationDirectory = Path.Combine(workDir, "validation") };
        using var job = TrainingJob.Prepare(this, settings, imageFiles, outputs, log, cancellation);
        return job.Run(progress, cancellation);
    }

    /// <summary>
    /// Trains a LoRA adapter (<paramref name="settings"/> with <see cref="TrainingMethod.Lora"/>, e.g. from
    /// <see cref="TrainingSettings.ForLora"/>) through the same <see cref="TrainingJob"/> as <see cref="TrainConcept"/>;
    /// writes it in PEFT's layout to <paramref name="adapterDirectory"/> when given.
    /// </summary>
    public LoraAdapter TrainLora(IReadOnlyList<string> imageFiles, TrainingSettings settings, string workDir, string? adapterDirectory = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default, IProgress<string>? log = null)
    {
        var outputs = new TrainingOutputs(workDir) { ValidationDirectory = Path.Combine(workDir, "validation"), ConceptPath = adapterDirectory };
        using var job = TrainingJob.Prepare(this, settings, imageFiles, outputs, log, cancellation);
        return job.RunLora(progress, cancellation);
    }

    /// <summary>
    /// PersonalAR, both stages (<see cref="PersonalArJob"/>): textual inversion of the [V] embedding, then the
    /// embedding with the q/k/v weights (or LoRA on them). With <paramref name="outputDirectory"/> the concept and the
    /// weights are written there (and a rerun resumes); validation images go under it, or under <paramref name="workDir"/>.
    /// </summary>
    public PersonalArResult TrainPersonalAr(IReadOnlyList<string> imageFiles, PersonalArSettings settings, string workDir, string? outputDirectory = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default, IProgress<string>? log = null) =>
        PersonalArJob.Run(this, settings, imageFiles, outputDirectory, workDir, restart: false, log, progress, cancellation);

    public void Dispose()
    {
        Model.Adapter = null;
        _unmergedLora?.Dispose();
        Vqgan.Dispose();
        Model.Dispose();
        Backend.Dispose();
    }
}
