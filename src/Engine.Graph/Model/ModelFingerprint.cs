using System.Security.Cryptography;
using System.Text;

namespace CoAR.Engine.Graph.Model;

/// <summary>
/// A short identity of a base model: SHA-256 over its architecture fields and a sample of the token embedding (first
/// bytes of a few spread-out rows). Two checkpoints of the same architecture but different training differ; reading
/// it touches a few kilobytes, not the 14 GB.
/// </summary>
public static class ModelFingerprint
{
    public static unsafe string Compute(string modelDir)
    {
        var config = ChameleonConfig.Load(Path.Combine(modelDir, "config.json"));
        using var checkpoint = ChameleonModel.OpenCheckpoint(modelDir);
        var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(
            $"chameleon d={config.HiddenSize} L={config.NumLayers} H={config.NumHeads} kv={config.NumKvHeads} f={config.IntermediateSize} " +
            $"V={config.VocabSize} swin={config.SwinNorm} qk={config.QkLayerNorm} dtype={config.TorchDType}"));
        var embedding = checkpoint.GetTensor(ChameleonTensors.Embedding);
        long rowBytes = embedding.ByteLength / Math.Max(1, embedding.Shape[0]);
        var data = checkpoint.GetPointer(embedding);
        const int samples = 8, bytesPerSample = 256;
        for (int i = 0; i < samples; i++)
        {
            long row = embedding.Shape[0] * i / samples;
            int n = (int)Math.Min(bytesPerSample, rowBytes);
            sha.AppendData(new ReadOnlySpan<byte>(data + row * rowBytes, n));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
