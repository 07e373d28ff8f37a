using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Graph.Model;

/// <summary>
/// What running a model takes, before anything is loaded: weights, KV cache for a batch of sequences, and the
/// activation workspace of the largest forward pass (every image's prompt prefill at once, which is more than a
/// decode step of every row). A continuous batch planned from it never runs more than <see cref="StepTokens"/>
/// tokens in one forward.
/// </summary>
public sealed record MemoryEstimate(long WeightBytes, long KvCacheBytes, long ActivationBytes, int Rows, int TokensPerRow, int StepTokens)
{
    public long TotalBytes => WeightBytes + KvCacheBytes + ActivationBytes;

    /// <summary>Image-phase tokens for a W x H image: start, height, width, H/16 rows of (W/16 codes + new line), end, end-of-turn.</summary>
    public static int ImageTokens(int widthPx, int heightPx) => 3 + heightPx / 16 * (widthPx / 16 + 1) + 2;

    /// <summary>Tokens one image's prefill runs: its prompt and image header, and (guided) the unconditional header.</summary>
    public static int PrefillTokens(int promptTokens, bool cfg) => promptTokens + 3 + (cfg ? 3 : 0);

    /// <param name="weightBytes">Bytes of the weights as the backend holds them.</param>
    /// <param name="images">Images generated together.</param>
    /// <param name="cfg">Whether each image has an unconditional row too (classifier-free guidance).</param>
    /// <param name="promptTokens">Longest prompt, in tokens.</param>
    /// <param name="activationType">The backend's activation and KV-cache dtype.</param>
    public static MemoryEstimate For(ChameleonConfig config, long weightBytes, int images, int widthPx, int heightPx,
        bool cfg, int promptTokens, DType activationType)
    {
        int rows = images * (cfg ? 2 : 1);
        int perRow = promptTokens + ImageTokens(widthPx, heightPx);
        long kv = KvCache.BytesFor(config, rows, perRow, activationType);
        int stepTokens = Math.Max(images * PrefillTokens(promptTokens, cfg), rows);
        return new MemoryEstimate(weightBytes, kv, ForwardBytes(config, stepTokens, rows, activationType), rows, perRow, stepTokens);
    }

    /// <summary>Workspace of one forward pass of <paramref name="tokens"/> tokens with <paramref name="logitRows"/> logit rows.</summary>
    public static long ForwardBytes(ChameleonConfig c, int tokens, int logitRows, DType act)
    {
        long perToken = 2L * c.HiddenSize /* residual, normed */ + c.HiddenSize /* q */ + 2L * c.KvDim /* k, v */
                        + c.HiddenSize /* attention out */ + 2L * c.IntermediateSize /* gate, up */
                        + (c.SwinNorm ? c.HiddenSize : 0);
        long ints = 4L * 4 * tokens;
        return tokens * perToken * act.SizeOf() + ints + logitRows * ((long)c.HiddenSize * act.SizeOf() + 4L * c.VocabSize);
    }
}
