using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Files;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Lora;

/// <summary>
/// A LoRA adapter in Hugging Face PEFT's layout: a directory with adapter_model.safetensors, whose tensors are named
/// <c>base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight</c> ([rank, in]) and <c>...lora_B.weight</c>
/// ([out, rank]), and adapter_config.json (peft_type LORA, r, lora_alpha, target_modules, ...). Files PEFT writes
/// load here (F32, BF16 or F16 tensors; rsLoRA scaling), and the files written here load in PEFT; what this engine
/// does not run (DoRA, biases, per-module rank or alpha patterns, fan_in_fan_out) is refused by name.
/// </summary>
public static partial class PeftAdapterFile
{
    public const string WeightsFileName = "adapter_model.safetensors";
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>PEFT's prefix for a causal LM's modules: the LoRA model wraps the transformers model, whose decoder is "model".</summary>
    public const string Prefix = "base_model.model.model.layers.";

    /// <summary>The largest adapter read: rank 256 on all seven projections of a 7B model in F32 is ~2.6 GB.</summary>
    public const long MaxFileBytes = 8L << 30;

    public sealed record Info(LoraAdapter Adapter, IReadOnlyDictionary<string, string> Metadata, string WeightsPath);

    /// <summary>The tensor name PEFT gives A or B of a projection.</summary>
    public static string TensorName(int layer, Projection p, bool a) =>
        $"{Prefix}{layer.ToString(CultureInfo.InvariantCulture)}.{p.ModulePath()}.lora_{(a ? "A" : "B")}.weight";

    /// <summary>
    /// Writes <paramref name="directory"/>/adapter_model.safetensors (F32, <paramref name="metadata"/> beside PEFT's
    /// "format": "pt") and adapter_config.json, each atomically.
    /// </summary>
    public static void Save(string directory, LoraAdapter adapter, string baseModel, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(directory);
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (metadata is not null)
            foreach (var (k, v) in metadata) meta[k] = v;
        var writer = new SafeTensorsWriter(meta);
        foreach (var pair in adapter.Pairs)
        {
            writer.Add<float>(TensorName(pair.Layer, pair.Projection, a: true), DType.F32, [adapter.Rank, pair.In], pair.A);
            writer.Add<float>(TensorName(pair.Layer, pair.Projection, a: false), DType.F32, [pair.Out, adapter.Rank], pair.B);
        }
        writer.WriteTo(Path.Combine(directory, WeightsFileName));
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFileName), ConfigJson(adapter, baseModel));
    }

    /// <summary>adapter_config.json as PEFT writes it for these settings (only fields PEFT's LoraConfig knows).</summary>
    public static string ConfigJson(LoraAdapter adapter, string baseModel)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("peft_type", "LORA");
            w.WriteString("task_type", "CAUSAL_LM");
            w.WriteString("base_model_name_or_path", baseModel);
            w.WriteNumber("r", adapter.Rank);
            w.WriteNumber("lora_alpha", adapter.Alpha);
            w.WriteStartArray("target_modules");
            foreach (var p in adapter.Targets) w.WriteStringValue(p.ModuleName());
            w.WriteEndArray();
            w.WriteStartArray("layers_to_transform");
            foreach (int l in adapter.Pairs.Select(p => p.Layer).Distinct()) w.WriteNumberValue(l);
            w.WriteEndArray();
            w.WriteNumber("lora_dropout", 0);
            w.WriteString("bias", "none");
            w.WriteBoolean("fan_in_fan_out", false);
            w.WriteBoolean("use_rslora", adapter.RsLora);
            w.WriteBoolean("use_dora", false);
            w.WriteBoolean("init_lora_weights", true);
            w.WriteBoolean("inference_mode", true);
            w.WriteNull("modules_to_save");
            w.WriteStartObject("rank_pattern");
            w.WriteEndObject();
            w.WriteStartObject("alpha_pattern");
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>
    /// Loads an adapter from its directory, or from its .safetensors file with adapter_config.json beside it. Errors
    /// (<see cref="InvalidDataException"/>, <see cref="FileNotFoundException"/>) name the file, field or tensor at fault.
    /// </summary>
    public static Info Load(string path)
    {
        string weights = Directory.Exists(path) ? Path.Combine(path, WeightsFileName) : path;
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weights))!, ConfigFileName);
        if (!File.Exists(weights))
            throw new FileNotFoundException(Directory.Exists(path)
                ? $"LoRA adapter directory '{path}' has no {WeightsFileName}" : $"LoRA adapter '{path}' not found", weights);
        if (!File.Exists(config))
            throw new FileNotFoundException($"LoRA adapter '{path}': {ConfigFileName} is missing beside {Path.GetFileName(weights)} (PEFT writes both)", config);
        var (rank, alpha, rsLora, targets) = ReadConfig(config);
        if (new FileInfo(weights).Length > MaxFileBytes)
            throw new InvalidDataException($"{weights}: {new FileInfo(weights).Length} bytes, more than the {MaxFileBytes} a LoRA adapter can be");
        using var file = SafeTensorsFile.Open(weights);
        var found = new Dictionary<(int, Projection), (TensorInfo? A, TensorInfo? B)>();
        foreach (var t in file.Tensors)
        {
            var m = TensorNamePattern().Match(t.Name);
            var p = m.Success ? Projections.Parse(m.Groups[3].Value) : null;
            if (p is null || !int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
                || p.Value.ModulePath() != $"{m.Groups[2].Value}.{m.Groups[3].Value}")
                throw new InvalidDataException($"{weights}: tensor '{t.Name}' is not a LoRA weight this engine knows " +
                    $"(expected {Prefix}{{layer}}.self_attn.{{q,k,v,o}}_proj.lora_{{A,B}}.weight or mlp.{{gate,up,down}}_proj)");
            if (!targets.Contains(p.Value))
                throw new InvalidDataException($"{weights}: tensor '{t.Name}' adapts {p.Value.ModuleName()}, which {ConfigFileName}'s target_modules does not list");
            if (t.DType is not (DType.F32 or DType.BF16 or DType.F16) || t.Shape.Length != 2)
                throw new InvalidDataException($"{weights}: tensor '{t.Name}' is {t.DType}[{string.Join(", ", t.Shape)}], expected a 2-d F32, BF16 or F16 matrix");
            var entry = found.GetValueOrDefault((layer, p.Value));
            found[(layer, p.Value)] = m.Groups[4].Value == "A" ? entry with { A = t } : entry with { B = t };
        }
        if (found.Count == 0) throw new InvalidDataException($"{weights}: no LoRA tensors ({Prefix}...lora_A.weight)");
        var adapter = new LoraAdapter(rank, alpha, found.Keys.Select(k => k.Item2).Distinct().ToArray(), rsLora);
        foreach (var ((layer, p), (a, b)) in found.OrderBy(f => f.Key))
        {
            if (a is null || b is null)
                throw new InvalidDataException($"{weights}: {TensorName(layer, p, a is null)} is missing (each adapted projection has lora_A and lora_B)");
            if (a.Shape[0] != rank || b.Shape[1] != rank)
                throw new InvalidDataException($"{weights}: layer {layer} {p.ModulePath()} has lora_A [{string.Join(", ", a.Shape)}] and lora_B " +
                    $"[{string.Join(", ", b.Shape)}]; {ConfigFileName} says r = {rank}");
            adapter.Set(layer, p, checked((int)a.Shape[1]), checked((int)b.Shape[0]), file.ReadFloats(a), file.ReadFloats(b));
        }
        return new Info(adapter, file.Metadata, weights);
    }

    private static (int Rank, float Alpha, bool RsLora, HashSet<Projection> Targets) ReadConfig(string path)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON: {e.Message}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object");
            JsonElement Field(string name) => root.TryGetProperty(name, out var v) ? v
                : throw new InvalidDataException($"{path}: field '{name}' is missing");
            bool Flag(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
            if (Field("peft_type").GetString() is not "LORA")
                throw new InvalidDataException($"{path}: peft_type is '{root.GetProperty("peft_type")}', this engine reads LORA adapters");
            if (Field("r").ValueKind != JsonValueKind.Number || !Field("r").TryGetInt32(out int rank) || rank < 1)
                throw new InvalidDataException($"{path}: r is {Field("r")}, expected a positive integer");
            if (Field("lora_alpha").ValueKind != JsonValueKind.Number || !(Field("lora_alpha").GetDouble() is > 0 and var alpha && double.IsFinite(alpha)))
                throw new InvalidDataException($"{path}: lora_alpha is {Field("lora_alpha")}, expected a positive number");
            foreach (var unsupported in new[] { "use_dora", "fan_in_fan_out" })
                if (Flag(unsupported)) throw new InvalidDataException($"{path}: {unsupported} is true; this engine runs plain LoRA only");
            if (root.TryGetProperty("bias", out var bias) && bias.GetString() is { } b && b != "none")
                throw new InvalidDataException($"{path}: bias is '{b}'; this engine runs LoRA without biases (\"none\")");
            foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
                if (root.TryGetProperty(pattern, out var v) && v.ValueKind == JsonValueKind.Object && v.EnumerateObject().Any())
                    throw new InvalidDataException($"{path}: {pattern} is not empty; this engine runs one rank and alpha for every module");
            var targets = new HashSet<Projection>();
            var modules = Field("target_modules");
            if (modules.ValueKind == JsonValueKind.Array)
            {
                foreach (var m in modules.EnumerateArray())
                    targets.Add(Projections.Parse(m.GetString() ?? "") ?? throw new InvalidDataException(
                        $"{path}: target_modules names '{m}', which is none of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"));
            }
            else if (modules.ValueKind == JsonValueKind.String)
            {
                // PEFT also takes a regular expression that must match a module's whole name; the tensors say which layers.
                var regex = new Regex($"^(?:{modules.GetString()})$");
                foreach (var p in Projections.All)
                    if (regex.IsMatch($"model.layers.0.{p.ModulePath()}")) targets.Add(p);
            }
            else
                throw new InvalidDataException($"{path}: target_modules is {modules.ValueKind}, expected a list of module names or a pattern");
            return (rank, (float)alpha, Flag("use_rslora"), targets);
        }
    }

    [GeneratedRegex(@"^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.lora_(A|B)\.weight$")]
    private static partial Regex TensorNamePattern();
}
