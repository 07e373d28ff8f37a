using CoAR.Engine.Managed.SafeTensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>What a model directory holds, read from headers only: config, files, parameters by group, dtypes, bytes.</summary>
public sealed record CheckpointSummary(
    string ModelDir,
    ChameleonConfig Config,
    IReadOnlyList<string> Files,
    IReadOnlyDictionary<string, long> ParametersByGroup,
    IReadOnlyDictionary<string, int> TensorsByDType,
    int TensorCount,
    long Parameters,
    long Bytes,
    int QkNormGroups,
    IReadOnlyList<string> UnusedTensors)
{
    /// <summary>Reads and checks the checkpoint (every expected tensor present, right shape and dtype).</summary>
    public static CheckpointSummary Read(string modelDir)
    {
        var config = ChameleonConfig.Load(Path.Combine(modelDir, "config.json"));
        using var checkpoint = ChameleonModel.OpenCheckpoint(modelDir);
        var resolved = ChameleonTensors.Resolve(checkpoint, config, modelDir);
        var groups = new Dictionary<string, long>();
        var dtypes = new Dictionary<string, int>();
        long parameters = 0, bytes = 0;
        foreach (var spec in ChameleonTensors.Expected(config))
        {
            var info = resolved[spec.Name];
            groups[spec.Group] = groups.GetValueOrDefault(spec.Group) + info.ElementCount;
            dtypes[info.DType.ToString()] = dtypes.GetValueOrDefault(info.DType.ToString()) + 1;
            parameters += info.ElementCount;
            bytes += info.ByteLength;
        }
        int groupsQk = 0;
        if (config.QkLayerNorm)
            groupsQk = (int)resolved[ChameleonTensors.Layer(0, "self_attn.q_norm.weight")].Shape[0];
        var files = resolved.Values.Select(i => Path.GetFileName(i.FilePath)).Distinct().Order(StringComparer.Ordinal).ToList();
        var unused = checkpoint.Names.Where(n => !resolved.ContainsKey(n)).Order(StringComparer.Ordinal).ToList();
        return new CheckpointSummary(modelDir, config, files, groups, dtypes, resolved.Count, parameters, bytes, groupsQk, unused);
    }
}
