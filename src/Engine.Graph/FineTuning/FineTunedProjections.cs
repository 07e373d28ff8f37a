using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using CoAR.Engine.Graph.Lora;
using CoAR.Engine.Graph.Model;
using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.SafeTensors;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.FineTuning;

/// <summary>
/// Fine-tuned projection weights as a file: one safetensors file of full weights under the checkpoint's own tensor
/// names (<c>model.layers.{i}.self_attn.q_proj.weight</c>, [out, in]), so that it is a partial state dict the
/// Hugging Face model loads as it is (<c>load_state_dict(..., strict=False)</c>) and that replaces the loaded
/// weights here (<see cref="Apply"/>). Written in F32 (W + dW adds no rounding); F32, BF16 or F16 files are read.
/// Metadata: format, base model, and the training record.
/// </summary>
public static partial class FineTunedProjections
{
    public const string FormatVersion = "coar-projections/1";

    /// <summary>The file a PersonalAR run with full fine-tuning writes beside its concept.</summary>
    public const string FileName = "projections.safetensors";

    /// <summary>The weights read from a file, F32 [Out, In], by layer and projection.</summary>
    public sealed record Weights(IReadOnlyDictionary<(int Layer, Projection P), float[]> Values, IReadOnlyDictionary<string, string> Metadata, string Path)
    {
        public long Parameters => Values.Values.Sum(v => (long)v.Length);

        /// <summary>
        /// Checks that the weights fit a model of <paramref name="config"/> (every layer there, every weight of its
        /// projection's size) and were fine-tuned from <paramref name="baseModel"/> when the file says which; an
        /// <see cref="InvalidDataException"/> names the tensor at fault.
        /// </summary>
        public void CheckFits(ChameleonConfig config, string baseModel)
        {
            if (Metadata.GetValueOrDefault("base_model") is { } made && made != baseModel)
                throw new InvalidDataException($"{Path}: fine-tuned from base model {made}, not the loaded {baseModel}; its weights would not fit the rest of this model");
            foreach (var ((layer, p), values) in Values.OrderBy(v => v.Key))
            {
                if (layer >= config.NumLayers)
                    throw new InvalidDataException($"{Path}: tensor '{TensorName(layer, p)}' is for layer {layer}, but the model has {config.NumLayers} layers");
                var (outF, inF) = LoraAdapter.Shape(config, p);
                if (values.Length != (long)outF * inF)
                    throw new InvalidDataException($"{Path}: tensor '{TensorName(layer, p)}' has {values.Length} values, the model's weight is [{outF}, {inF}]");
            }
        }
    }

    public static string TensorName(int layer, Projection p) => ChameleonTensors.Layer(layer, p.ModulePath() + ".weight");

    /// <summary>
    /// Writes the fine-tuned weights W + dW of every projection in <paramref name="deltas"/> (W read back from
    /// <paramref name="model"/>, which must hold the base weights) to <paramref name="path"/>, atomically; one
    /// projection is in host memory at a time.
    /// </summary>
    public static void Save(string path, WeightDeltas deltas, ChameleonModel model, string baseModel, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["coar_format"] = FormatVersion, ["base_model"] = baseModel };
        if (metadata is not null)
            foreach (var (k, v) in metadata) meta[k] = v;
        var writer = new SafeTensorsWriter(meta);
        foreach (var d in deltas.All)
            writer.AddStreamed(TensorName(d.Layer, d.Projection), DType.F32, [d.Out, d.In], stream =>
                stream.Write(MemoryMarshal.AsBytes(FineTuned(model, d).AsSpan())));
        writer.WriteTo(path);
    }

    /// <summary>
    /// The fine-tuned weights W + dW of a training run's changes, in memory (what <see cref="Save"/> writes), for
    /// <see cref="CoarEngine.ApplyProjections"/> without a file; <paramref name="model"/> must hold the base weights.
    /// </summary>
    public static Weights Combine(ChameleonModel model, WeightDeltas deltas, string source = "trained weights")
    {
        var values = new Dictionary<(int, Projection), float[]>();
        foreach (var d in deltas.All) values[(d.Layer, d.Projection)] = FineTuned(model, d);
        return new Weights(values, new Dictionary<string, string>(), source);
    }

    /// <summary>
    /// Reads a file (or the directory holding <see cref="FileName"/>) of fine-tuned projection weights, before any
    /// model is at hand: errors (<see cref="InvalidDataException"/>, <see cref="FileNotFoundException"/>) name the
    /// file and the tensor at fault (a name that is no projection weight, a tensor that is no 2-d F32, BF16 or F16
    /// matrix). Whether the weights fit a model is <see cref="Weights.CheckFits"/>, which <see cref="Apply"/> runs.
    /// </summary>
    public static Weights Load(string path)
    {
        if (Directory.Exists(path) && File.Exists(System.IO.Path.Combine(path, FileName))) path = System.IO.Path.Combine(path, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"fine-tuned projections '{path}' not found", path);
        try
        {
            using var file = SafeTensorsFile.Open(path);
            var values = new Dictionary<(int, Projection), float[]>();
            foreach (var t in file.Tensors)
            {
                var m = TensorNamePattern().Match(t.Name);
                var p = m.Success ? Projections.Parse(m.Groups[3].Value) : null;
                if (p is null || !int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
                    || p.Value.ModulePath() != $"{m.Groups[2].Value}.{m.Groups[3].Value}")
                    throw new InvalidDataException($"{path}: tensor '{t.Name}' is not a projection weight " +
                        "(expected model.layers.{layer}.self_attn.{q,k,v,o}_proj.weight or model.layers.{layer}.mlp.{gate,up,down}_proj.weight)");
                if (t.DType is not (DType.F32 or DType.BF16 or DType.F16) || t.Shape.Length != 2)
                    throw new InvalidDataException($"{path}: tensor '{t.Name}' is {t.DType}[{string.Join(", ", t.Shape)}], expected a 2-d F32, BF16 or F16 weight");
                values[(layer, p.Value)] = file.ReadFloats(t);
            }
            if (values.Count == 0) throw new InvalidDataException($"{path}: no projection weights (model.layers.{{layer}}.self_attn.q_proj.weight, ...)");
            return new Weights(values, file.Metadata, path);
        }
        catch (SafeTensorsException e)
        {
            throw new InvalidDataException($"{path}: not a readable safetensors file ({e.Message})", e);
        }
    }

    /// <summary>
    /// Puts the weights in place of the model's: kept in the weight's dtype, except BF16 weights on a backend with F32
    /// activations (the CPU), which become F32 (as <see cref="LoraMerge"/> does): nothing is rounded there.
    /// </summary>
    public static void Apply(ChameleonModel model, Weights weights, string baseModel)
    {
        weights.CheckFits(model.Config, baseModel);
        var b = model.Backend;
        foreach (var ((layer, p), values) in weights.Values.OrderBy(v => v.Key))
        {
            var w = model.Weights.Layers[layer].Of(p);
            var dtype = w.DType == DType.BF16 && b.ActivationType == DType.F32 ? DType.F32 : w.DType;
            var replacement = b.Allocate(dtype, w.Shape.ToArray(), $"{w.Name}+finetuned");
            try
            {
                switch (dtype)
                {
                    case DType.F32:
                        b.Upload<float>(values, replacement);
                        break;
                    case DType.BF16:
                        var bits = new ushort[values.Length];
                        BFloat16.FromSingle(values, bits);
                        b.Upload<ushort>(bits, replacement);
                        break;
                    case DType.F16:
                        b.Upload<Half>(values.Select(v => (Half)v).ToArray(), replacement);
                        break;
                    default:
                        throw new InvalidOperationException($"{w.Name} is {dtype}; fine-tuned weights replace F32, BF16 or F16 weights");
                }
                b.Synchronize();
            }
            catch
            {
                replacement.Dispose();
                throw;
            }
            model.Weights.Replace(layer, p, replacement);
        }
    }

    /// <summary>W + dW of one projection in F32, W read back from the model.</summary>
    private static float[] FineTuned(ChameleonModel model, WeightDeltas.Delta d)
    {
        var w = TensorReader.ReadFloats(model.Backend, model.Weights.Layers[d.Layer].Of(d.Projection));
        for (int i = 0; i < w.Length; i++) w[i] += d.Values[i];
        return w;
    }

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+_proj)\.weight$")]
    private static partial Regex TensorNamePattern();
}
