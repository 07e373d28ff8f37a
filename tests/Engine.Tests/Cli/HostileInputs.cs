using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using CoAR.Engine.Managed.Imaging;
using CoAR.Engine.Tests.Imaging;

namespace CoAR.Engine.Tests.Cli;

/// <summary>
/// A directory of hostile and damaged inputs for every command, each with the command line that feeds it in: the
/// findings of the hostile-input audit (issue 12) and the fuzzers' regression inputs, plus broken models made from the
/// tiny one by replacing one file (the rest are symbolic links).
/// </summary>
internal sealed class HostileInputs
{
    private readonly string _root, _model, _regressions;
    private readonly List<(string Name, string[] Args)> _cases = [];

    public HostileInputs(string root, string tinyModel, string regressions)
    {
        _root = root;
        _model = tinyModel;
        _regressions = regressions;
    }

    public IReadOnlyList<(string Name, string[] Args)> Cases => _cases;

    private string Out(string name) => Path.Combine(_root, "out", name);

    private string Regression(string target, string file) => Path.Combine(_regressions, target, file);

    private string File_(string name, byte[] bytes)
    {
        string path = Path.Combine(_root, "files", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Text(string name, string text) => File_(name, Encoding.UTF8.GetBytes(text));

    /// <summary>The tiny model with <paramref name="file"/> replaced (written by <paramref name="write"/>, given its path).</summary>
    private string Model(string name, string file, Action<string> write)
    {
        string dir = Path.Combine(_root, "models", name);
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.EnumerateFiles(_model).Where(f => Path.GetFileName(f) != file && !Path.GetFileName(f).StartsWith('.')))
            File.CreateSymbolicLink(Path.Combine(dir, Path.GetFileName(f)), f);
        write(Path.Combine(dir, file));
        return dir;
    }

    private void Generate(string name, string model, params string[] extra) =>
        Add(name, ["generate", "--model", model, "--size", "64", "--device", "cpu", "--out", Out(name), .. extra]);

    private void Add(string name, string[] args) => _cases.Add((name, args));

    public HostileInputs Build()
    {
        string m = _model;
        const string backtracking = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab";

        // tokenizer.json: in `generate` (the audit found it failing where `tokenize` refused cleanly), and the regex and
        // surrogate cases in `tokenize` too.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_regressions, "tokenizer")).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            string model = Model($"tokenizer-{name}", "tokenizer.json", p => File.Copy(file, p));
            if (name.StartsWith("regex", StringComparison.Ordinal) || name.StartsWith("lone", StringComparison.Ordinal))
                Add($"tokenize {name}", ["tokenize", backtracking + " !", "--tokenizer", file]);
            Generate($"generate tokenizer {name}", model, "--prompt", backtracking + " !");
        }
        string merges = File_("tokenizer-2M-merges.json", Encoding.UTF8.GetBytes(
            """{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [""" + string.Join(",", Enumerable.Repeat("\"a b\"", 2_000_000)) + "]}}"));
        Add("tokenize 2M merges", ["tokenize", "ab", "--tokenizer", merges]);
        Generate("generate tokenizer 2M merges", Model("tokenizer-2M", "tokenizer.json", p => File.Copy(merges, p)), "--prompt", "ab");
        Add("tokenize FIFO", ["tokenize", "x", "--tokenizer", Fifo.Make("tokenizer.json")]);

        // config.json
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_regressions, "config")).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(file);
            string model = Model($"config-{name}", "config.json", p => File.Copy(file, p));
            Add($"inspect config {name}", ["inspect", "--model", model]);
        }
        string oneLayer = Model("config-fewer-layers", "config.json", p =>
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(m, "config.json")))!.AsObject();
            config["num_hidden_layers"] = 2;
            File.WriteAllText(p, config.ToJsonString());
        });
        Add("inspect checkpoint layers beyond num_hidden_layers", ["inspect", "--model", oneLayer]);
        Generate("generate checkpoint layers beyond num_hidden_layers", oneLayer, "--prompt", "x");

        // Safetensors shards and the index.
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(m, "model.safetensors.index.json")))!.AsObject();
        string shard = index["weight_map"]!["model.norm.weight"]!.GetValue<string>();
        Add("inspect shard FIFO", ["inspect", "--model", Model("shard-fifo", shard, p => File.Move(Fifo.Make(shard), p))]);
        Add("inspect shard truncated", ["inspect", "--model", Model("shard-truncated", shard, p =>
            File.WriteAllBytes(p, File.ReadAllBytes(Path.Combine(m, shard))[..100_000]))]);
        Add("inspect shard header length huge", ["inspect", "--model", Model("shard-header", shard, p =>
        {
            var bytes = File.ReadAllBytes(Path.Combine(m, shard));
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue - 7);
            File.WriteAllBytes(p, bytes);
        })]);
        Generate("generate NaN weights", Model("shard-nan", shard, p => File.WriteAllBytes(p, WithNaNs(Path.Combine(m, shard), "model.norm.weight"))), "--prompt", "x");
        Add("inspect index path traversal", ["inspect", "--model", Model("index-traversal", "model.safetensors.index.json", p =>
        {
            var copy = index.DeepClone().AsObject();
            copy["weight_map"]!["model.norm.weight"] = "../../etc/passwd";
            File.WriteAllText(p, copy.ToJsonString());
        })]);
        Add("inspect index not JSON", ["inspect", "--model", Model("index-garbage", "model.safetensors.index.json", p => File.WriteAllText(p, "{\"weight_map\": "))]);
        Add("decode vqgan.json garbage", ["decode", Path.Combine(_regressions, "..", "corpus", "codes", "codes.json"), "--model",
            Model("vqgan-json", "vqgan.json", p => File.WriteAllText(p, "{\"embed_dim\": -1}")), "--device", "cpu", "--out", Path.Combine(Out("decode-vqgan"), "x.png")]);
        Add("inspect logits huge token id", ["inspect", "--model", m, "--logits", "--tokens", "0,999999999", "--device", "cpu"]);

        // Images for `encode`, and photos for `train`.
        var images = Directory.EnumerateFiles(Path.Combine(_regressions, "image")).Order(StringComparer.Ordinal).ToList();
        images.Add(File_("ppm16-1024.ppm", [.. "P6\n1024 1024\n65535\n"u8, .. new byte[1024 * 1024 * 6]]));
        images.Add(File_("strip-1x4000.png", ImageFile.EncodePng(new RgbImage(1, 4000))));
        images.Add(Fifo.Make("photo.png"));
        images.Add(Directory.CreateDirectory(Path.Combine(_root, "files", "a-directory.png")).FullName);
        foreach (var image in images)
            Add($"encode {Path.GetFileName(image)}", ["encode", image, "--model", m, "--resolution", "256", "--device", "cpu", "--out", Path.Combine(Out("encode"), Path.GetFileName(image) + ".json")]);
        foreach (var image in images)
            Generate($"generate --image {Path.GetFileName(image)}", m, "--prompt", "a cat like <|image|>", "--image", image, "--target", "512");
        Add("encode top-down BMP (valid)", ["encode", File_("top-down.bmp", TestEncoders.Bmp(TestImages.Gradient(64, 48), topDown: true)), "--model", m,
            "--resolution", "256", "--device", "cpu", "--out", Path.Combine(Out("encode"), "bmp.json")]);
        string badPhotos = Path.Combine(_root, "files", "bad-photos");
        Directory.CreateDirectory(badPhotos);
        File.Copy(Regression("image", "truncated.png"), Path.Combine(badPhotos, "a.png"));
        Add("train on a truncated photo", ["train", "--model", m, "--images", badPhotos, "--class", "dog", "--steps", "1", "--resolution", "64", "--no-dpp",
            "--device", "cpu", "--out", Path.Combine(Out("train-bad"), "dog.safetensors")]);

        // Training checkpoints that do not belong to the run: an error offering --restart, never dropped silently.
        string trainDir = Out("train-checkpoint");
        Directory.CreateDirectory(trainDir);
        File.WriteAllBytes(Path.Combine(trainDir, "dog.checkpoint.safetensors"), File.ReadAllBytes(Path.Combine(_regressions, "..", "corpus", "checkpoint", "run.checkpoint.safetensors")));
        string goodPhotos = Path.Combine(_root, "files", "photos");
        Directory.CreateDirectory(goodPhotos);
        File.WriteAllBytes(Path.Combine(goodPhotos, "p.png"), ImageFile.EncodePng(TestImages.Gradient(80, 64)));
        Add("train with another run's checkpoint", ["train", "--model", m, "--images", goodPhotos, "--class", "dog", "--steps", "1", "--resolution", "64",
            "--layers", "2", "--no-dpp", "--device", "cpu", "--out", Path.Combine(trainDir, "dog.safetensors")]);
        string garbageDir = Out("train-garbage-checkpoint");
        Directory.CreateDirectory(garbageDir);
        File.WriteAllText(Path.Combine(garbageDir, "dog.checkpoint.safetensors"), "not a checkpoint");
        Add("train with a garbage checkpoint", ["train", "--model", m, "--images", goodPhotos, "--class", "dog", "--steps", "1", "--resolution", "64",
            "--layers", "2", "--no-dpp", "--device", "cpu", "--out", Path.Combine(garbageDir, "dog.safetensors")]);

        // Concept files.
        Generate("generate concept garbage", m, "--prompt", "a photo of [V] dog", "--concept", Text("garbage.safetensors", "not a concept"));
        Generate("generate concept of another model", m, "--prompt", "a photo of [V] dog", "--concept", Path.Combine(_regressions, "..", "corpus", "concept", "dog.safetensors"));
        Generate("generate concept FIFO", m, "--prompt", "a photo of [V] dog", "--concept", Fifo.Make("dog.safetensors"));

        // `serve` refuses a concept it cannot use before it listens.
        Add("serve concept garbage", ["serve", "--model", m, "--device", "cpu", "--port", "0", "--concept", Text("garbage-serve.safetensors", "not a concept")]);
        Add("serve concept of another model", ["serve", "--model", m, "--device", "cpu", "--port", "0", "--concept",
            Path.Combine(_regressions, "..", "corpus", "concept", "dog.safetensors")]);

        // `job status` over damaged job directories: image counts past the job limits, FIFOs where images and progress
        // files should be, a garbage PNG.
        string counts = Out("job status counts");
        Directory.CreateDirectory(counts);
        File.WriteAllText(Path.Combine(counts, "job.json"), """{"base_seed": 1, "image_counts": [[10000, 100000]]}""");
        Add("job status image counts past the limits", ["job", "status", counts]);
        string damaged = Out("job status damaged");
        Directory.CreateDirectory(Path.Combine(damaged, ".coar-shards"));
        File.WriteAllText(Path.Combine(damaged, "job.json"), """{"base_seed": 1, "image_counts": [[1, 3]]}""");
        File.Move(Fifo.Make("00000-000.png"), Path.Combine(damaged, "00000-000.png"));
        File.WriteAllText(Path.Combine(damaged, "00000-000.json"), """{"width": 64, "height": 64}""");
        File.WriteAllBytes(Path.Combine(damaged, "00001-000.png"), [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0xFF, 0xFF, 0xFF, 0xFF]);
        File.Move(Fifo.Make("00002-000.json"), Path.Combine(damaged, "00002-000.json"));
        File.Copy(Regression("image", "truncated.png"), Path.Combine(damaged, "00002-000.png"));
        File.Move(Fifo.Make("shard-0-of-1.json"), Path.Combine(damaged, ".coar-shards", "shard-0-of-1.json"));
        Add("job status FIFOs and garbage", ["job", "status", damaged, "--json"]);

        // Codes files for `decode`.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_regressions, "codes")).Order(StringComparer.Ordinal))
            Add($"decode {Path.GetFileName(file)}", ["decode", file, "--model", m, "--device", "cpu", "--out", Path.Combine(Out("decode"), Path.GetFileName(file) + ".png")]);
        Add("decode codes 33 MB", ["decode", File_("codes-33mb.json", [.. "{\"latent_height\": 16, \"latent_width\": 16, \"codes\": ["u8,
            .. Encoding.ASCII.GetBytes(string.Join(",", Enumerable.Repeat("1", 16_000_000))), .. "]}"u8]), "--model", m, "--device", "cpu", "--out", Path.Combine(Out("decode"), "big.png")]);

        // JSONL jobs and job.json.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_regressions, "jsonl")).Order(StringComparer.Ordinal))
            Generate($"generate --prompts {Path.GetFileName(file)}", m, "--prompts", file);
        Generate("generate --prompts 1 MB prompt", m, "--prompts", Text("long-prompt.jsonl", "{\"prompt\": \"" + new string('a', 1 << 20) + "\"}\n"));
        Generate("generate --prompts 200k lines", m, "--prompts", Text("many.jsonl", string.Concat(Enumerable.Repeat("{\"prompt\": \"x\"}\n", 200_000))));
        Generate("generate --prompts not UTF-8", m, "--prompts", File_("latin1.jsonl", [.. "{\"prompt\": \"caf"u8, 0xE9, .. "\"}\n"u8]));
        Generate("generate --prompts FIFO", m, "--prompts", Fifo.Make("prompts.jsonl"));
        Generate("generate --prompt 10k characters", m, "--prompt", new string('a', 10_000));
        Generate("generate --count 1e9", m, "--prompt", "x", "--count", "1000000000");
        Generate("generate --cfg 1e39", m, "--prompt", "x", "--cfg", "1e39");
        Generate("generate --size 1e9", m, "--prompt", "x", "--size", "1000000000x32");
        string manifestDir = Out("generate job.json garbage");
        Directory.CreateDirectory(manifestDir);
        File.WriteAllText(Path.Combine(manifestDir, "job.json"), "[" + new string('[', 5000));
        Add("generate job.json garbage", ["generate", "--model", m, "--size", "64", "--device", "cpu", "--prompt", "x", "--out", manifestDir]);

        // convert-vqgan: refused pickles (no payload may run), bombs, damaged archives, YAML.
        foreach (var file in Directory.EnumerateFiles(Path.Combine(_regressions, "pickle")).Order(StringComparer.Ordinal))
        {
            string ckpt = File_($"{Path.GetFileNameWithoutExtension(file)}.ckpt", TorchZip(File.ReadAllBytes(file)));
            Add($"convert-vqgan {Path.GetFileName(file)}", ["convert-vqgan", ckpt, "--yaml", Path.Combine(_regressions, "..", "corpus", "yaml", "vqgan.yaml"), "--out", Out("convert")]);
        }
        Add("convert-vqgan memo bomb archive", ["convert-vqgan", Regression("torch", "memo-bomb-dicts.ckpt"), "--yaml", Path.Combine(_regressions, "..", "corpus", "yaml", "vqgan.yaml"), "--out", Out("convert")]);
        Add("convert-vqgan truncated zip", ["convert-vqgan", File_("truncated.ckpt", File.ReadAllBytes(Path.Combine(_regressions, "..", "corpus", "torch", "vqgan.ckpt"))[..300]),
            "--yaml", Path.Combine(_regressions, "..", "corpus", "yaml", "vqgan.yaml"), "--out", Out("convert")]);
        Add("convert-vqgan FIFO", ["convert-vqgan", Fifo.Make("vqgan.ckpt"), "--yaml", Path.Combine(_regressions, "..", "corpus", "yaml", "vqgan.yaml"), "--out", Out("convert")]);
        Add("convert-vqgan YAML anchors", ["convert-vqgan", Path.Combine(_regressions, "..", "corpus", "torch", "vqgan.ckpt"), "--yaml",
            Text("anchors.yaml", "model:\n  params: &p\n    embed_dim: *p\n"), "--out", Out("convert")]);

        // The remaining commands, with absurd numbers.
        Add("bench huge batch", ["bench", "--shape", "tiny", "--device", "cpu", "--batch", "100000000", "--steps", "1"]);
        Add("bench huge context", ["bench", "--shape", "tiny", "--device", "cpu", "--context", "2000000000", "--steps", "1"]);
        Add("make-model huge shards", ["make-model", "--out", Out("make-model"), "--shards", "100000000"]);
        Add("inspect huge batch estimate", ["inspect", "--model", m, "--batch", "2000000000", "--size", "1024"]);
        Add("info", ["info"]);
        return this;
    }

    /// <summary>A copy of a safetensors shard with one tensor's bf16 values all NaN.</summary>
    private static byte[] WithNaNs(string shardPath, string tensor)
    {
        var bytes = File.ReadAllBytes(shardPath);
        int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, headerLength))!.AsObject();
        var offsets = header[tensor]!["data_offsets"]!.AsArray();
        int begin = 8 + headerLength + (int)offsets[0]!.GetValue<long>(), end = 8 + headerLength + (int)offsets[1]!.GetValue<long>();
        for (int i = begin; i < end; i += 2)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i), 0x7FC0);
        return bytes;
    }

    /// <summary>A torch.save archive around a pickle.</summary>
    private static byte[] TorchZip(byte[] pickle)
    {
        var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, data) in new[] { ("data.pkl", pickle), ("byteorder", "little"u8.ToArray()), ("version", "3\n"u8.ToArray()) })
            {
                using var stream = zip.CreateEntry($"archive/{name}", CompressionLevel.NoCompression).Open();
                stream.Write(data);
            }
        }
        return memory.ToArray();
    }
}
