using CoAR.Engine.Graph.Imaging;
using CoAR.Engine.Managed.Tensors;
using CoAR.Engine.Managed.Torch;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>
/// Chameleon's tokenizer/vqgan.ckpt (+ vqgan.yaml) to vqgan.safetensors (F32, the names of spec section 7) and
/// vqgan.json (the yaml's model config). Weights come from the Lightning <c>state_dict</c> (or the top-level dict when
/// there is none), an HF-style <c>model.vqmodel.</c> prefix is dropped, <c>loss.*</c> (LPIPS, discriminator) keys are
/// skipped and listed. Every tensor the config implies must be present with its shape and nothing else may be: a
/// mismatch means the yaml does not describe this checkpoint. BF16 and F16 widen to F32 exactly; F64 rounds to nearest.
/// </summary>
public static class VqganConverter
{
    public const string WeightsFileName = "vqgan.safetensors";
    public const string ConfigFileName = "vqgan.json";

    private const string StateDictPrefix = "state_dict.";
    private const string HuggingFacePrefix = "model.vqmodel.";
    private const string LossPrefix = "loss.";

    /// <param name="yamlPath">Null: vqgan.yaml beside the checkpoint.</param>
    public static VqganConversion Convert(string ckptPath, string? yamlPath, string outDir)
    {
        ArgumentException.ThrowIfNullOrEmpty(ckptPath);
        ArgumentException.ThrowIfNullOrEmpty(outDir);
        yamlPath ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(ckptPath))!, "vqgan.yaml");
        if (!File.Exists(yamlPath))
            throw new FileNotFoundException($"VQGAN yaml {yamlPath} does not exist (pass its path with --yaml)", yamlPath);

        VqganConfig config = VqganYaml.Load(yamlPath);
        TorchCheckpoint checkpoint = TorchCheckpoint.Load(ckptPath);
        var selection = SelectWeights(checkpoint, config);

        Directory.CreateDirectory(outDir);
        string weightsPath = Path.Combine(outDir, WeightsFileName);
        string configPath = Path.Combine(outDir, ConfigFileName);
        SafetensorsOutput.Write(selection.Weights, weightsPath);
        config.Save(configPath);

        return new VqganConversion(config, weightsPath, configPath, selection.Weights.Count,
            selection.Weights.Sum(w => w.ElementCount), selection.SourceDTypes, selection.SkippedLossKeys,
            selection.SkippedEntries);
    }

    internal sealed record Selection(
        IReadOnlyList<CheckpointTensor> Weights,
        IReadOnlyDictionary<DType, int> SourceDTypes,
        IReadOnlyList<string> SkippedLossKeys,
        IReadOnlyList<SkippedEntry> SkippedEntries);

    /// <summary>The checkpoint's VQGAN weights as F32 in <see cref="VqganWeightLayout"/> order, checked against the config.</summary>
    internal static Selection SelectWeights(TorchCheckpoint checkpoint, VqganConfig config)
    {
        string source = checkpoint.Path;
        var skippedEntries = new List<SkippedEntry>(checkpoint.Skipped);
        bool lightning = checkpoint.Tensors.Any(t => t.Name.StartsWith(StateDictPrefix, StringComparison.Ordinal));

        var byName = new Dictionary<string, CheckpointTensor>();
        var lossKeys = new List<string>();
        var unexpected = new List<string>();
        var expected = VqganWeightLayout.Expected(config);
        var expectedNames = expected.Select(e => e.Name).ToHashSet();
        foreach (CheckpointTensor tensor in checkpoint.Tensors)
        {
            string name = tensor.Name;
            if (lightning)
            {
                if (!name.StartsWith(StateDictPrefix, StringComparison.Ordinal))
                {
                    skippedEntries.Add(new SkippedEntry(name, $"tensor {tensor.DType}[{string.Join(",", tensor.Shape)}] outside state_dict"));
                    continue;
                }
                name = name[StateDictPrefix.Length..];
            }
            if (name.StartsWith(HuggingFacePrefix, StringComparison.Ordinal))
                name = name[HuggingFacePrefix.Length..];
            if (name.StartsWith(LossPrefix, StringComparison.Ordinal))
                lossKeys.Add(name);
            else if (!expectedNames.Contains(name))
                unexpected.Add(name);
            else if (!byName.TryAdd(name, tensor))
                throw new InvalidDataException($"{source}: tensor {name} appears twice");
        }
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{source}: {unexpected.Count} tensors are not part of the VQGAN the yaml "
                                           + $"describes (does the yaml match this checkpoint?): {Sample(unexpected)}");

        var weights = new List<CheckpointTensor>(expected.Count);
        var dtypes = new Dictionary<DType, int>();
        foreach (VqganTensorSpec spec in expected)
        {
            if (!byName.TryGetValue(spec.Name, out var tensor))
                throw new InvalidDataException($"{source}: missing tensor {spec.Name} [{string.Join(",", spec.Shape)}]");
            if (!tensor.Shape.SequenceEqual(spec.Shape))
                throw new InvalidDataException($"{source}: tensor {spec.Name} is [{string.Join(",", tensor.Shape)}], "
                                               + $"expected [{string.Join(",", spec.Shape)}] for the yaml's config");
            dtypes[tensor.DType] = dtypes.GetValueOrDefault(tensor.DType) + 1;
            weights.Add(new CheckpointTensor(spec.Name, DType.F32, spec.Shape, ToF32(tensor, source)));
        }
        return new Selection(weights, dtypes, lossKeys, skippedEntries);
    }

    private static byte[] ToF32(CheckpointTensor tensor, string source)
    {
        int count = checked((int)tensor.ElementCount);
        var values = new float[count];
        ReadOnlySpan<byte> data = tensor.Data;
        switch (tensor.DType)
        {
            case DType.F32:
                return tensor.Data;
            case DType.BF16:
                BFloat16.ToSingle(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(data), values);
                break;
            case DType.F16:
                var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(data);
                for (int i = 0; i < count; i++)
                    values[i] = (float)halves[i];
                break;
            case DType.F64:
                var doubles = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(data);
                for (int i = 0; i < count; i++)
                    values[i] = (float)doubles[i];
                break;
            default:
                throw new InvalidDataException($"{source}: tensor {tensor.Name} is {tensor.DType}, expected a float type");
        }
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
    }

    private static string Sample(List<string> names) =>
        string.Join(", ", names.Take(10)) + (names.Count > 10 ? $", ... ({names.Count - 10} more)" : "");
}
