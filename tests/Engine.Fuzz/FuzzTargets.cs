using CoAR.Engine.Cli;
using CoAR.Engine.Cli.Commands;
using CoAR.Engine.Cli.Jobs;
using CoAR.Engine.Graph.Concepts;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Graph.Training;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Torch;
using CoAR.Engine.Tools.Vqgan;

namespace CoAR.Engine.Fuzz;

/// <summary>Every reader of user-supplied bytes, as a fuzz target. Readers that take a path get the bytes in a scratch file.</summary>
public static class FuzzTargets
{
    private static readonly Type[] FileErrors = [typeof(InvalidDataException), typeof(FileNotFoundException)];

    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("safetensors", "safetensors header and tensor table (SafeTensorsFile)", bytes =>
        {
            using var file = SafeTensorsFile.Open(Scratch.Write("fuzz.safetensors", bytes));
            foreach (var entry in file.Entries)
                if (file.TryGetTensor(entry.Name, out var info) && info.ByteLength <= int.MaxValue)
                    _ = file.GetBytes(info).Length;
        }, typeof(SafeTensorsException)),
        new("index", "model.safetensors.index.json (IndexParser)",
            bytes => IndexParser.Read(Scratch.Write("model.safetensors.index.json", bytes)), typeof(SafeTensorsException)),
        new("config", "config.json (ChameleonConfig)",
            bytes => ChameleonConfig.Load(Scratch.Write("config.json", bytes)), typeof(ModelFormatException), typeof(InvalidDataException)),
        new("tokenizer", "tokenizer.json with its normalizers, regex pre-tokenizers and decoders (BpeTokenizer)", bytes =>
        {
            var tokenizer = BpeTokenizer.Load(Scratch.Write("tokenizer.json", bytes));
            var ids = tokenizer.Encode("A photo of a dog<reserved08706> on 12 beaches,  naïve café 😀 \t\n end");
            _ = tokenizer.Decode(ids.Where(id => tokenizer.IdToToken(id) is not null).ToArray());
        }, typeof(TokenizerFormatException), typeof(InvalidDataException)),
        new("torch", "torch.save zip archive and its pickle (TorchCheckpoint)",
            bytes => TorchCheckpoint.Load(Scratch.Write("vqgan.ckpt", bytes)), FileErrors),
        new("pickle", "the restricted unpickler alone (RestrictedUnpickler)",
            bytes => RestrictedUnpickler.Load(bytes, "fuzz.pkl"), typeof(InvalidDataException)),
        new("yaml", "the VQGAN YAML subset (VqganYaml)",
            bytes => VqganYaml.Load(Scratch.Write("vqgan.yaml", bytes)), typeof(InvalidDataException), typeof(FormatException)),
        new("concept", "concept files (ConceptFile)",
            bytes => ConceptFile.Load(Scratch.Write("concept.safetensors", bytes)), typeof(InvalidDataException), typeof(SafeTensorsException)),
        new("checkpoint", "training checkpoints (TrainingCheckpoint)", bytes =>
        {
            var like = new Concept(ConceptKind.Subject, "[V]", "dog", 2, 1, 1, 8, new float[16], new float[16]);
            TrainingCheckpoint.Read(Scratch.Write("run.checkpoint.safetensors", bytes), "fuzz-model", "{\"Steps\":10}", 10, like, 32, 16);
        }, typeof(InvalidDataException)),
        new("job", "an output directory's job.json (GenerationJob)", bytes =>
        {
            string dir = Scratch.Directory("job");
            File.WriteAllBytes(Path.Combine(dir, GenerationJob.ManifestName), bytes);
            GenerationJob.Plan(dir, [new JobLine("a red apple", null, 2, null, null, null, null)], new JobSettings(64, 64, 4, 2000, 1, 1), null,
                s => CliParsing.ImageSize(s, "size"));
        }, typeof(InvalidDataException), typeof(UsageException)),
        new("jsonl", "--prompts JSONL files (JobLine)",
            bytes => JobLine.ReadFile(Scratch.Write("prompts.jsonl", bytes)), typeof(InvalidDataException)),
        new("codes", "codes files and sidecars (CodesFile)",
            bytes => CodesFile.Read(Scratch.Write("codes.json", bytes), ImageTokenIds.Chameleon), typeof(InvalidDataException)),
        new("image", "image bytes through decode and the Lumina preprocessing (ImageFile, ImagePreprocessor)", bytes =>
        {
            // Smaller limits than a user gets, so a tiny file claiming a big image costs the fuzzer milliseconds.
            var image = ImageFile.Decode(bytes, "fuzz", new ImageDecodeLimits(MaxSide: 4096, MaxPixels: 1 << 20));
            ImagePreprocessor.Preprocess(image, 256, sourceName: "fuzz");
        }, typeof(InvalidDataException)),
    ];

    public static FuzzTarget Named(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"no fuzz target '{name}' (targets: {string.Join(", ", All.Select(t => t.Name))})");
}
