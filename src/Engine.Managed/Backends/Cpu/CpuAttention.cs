using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// Attention of a block of queries of one cache row and head, as products on <see cref="CpuGemm"/>'s serial kernels:
/// S = Q K^T, a masked softmax per query, O = P V; and the backward (dV += P^T dO, dP = dO V^T, dS = P (dP - delta),
/// dq = dS K, dK += dS^T Q). A query's scores, weights and output are computed the same way whichever queries share
/// its block (each element is its own FMA chain; the softmax runs over that query's keys alone), so results do not
/// depend on the batch. Scores are materialized per block ([queries x keys], a few hundred KiB at 768 px).
/// </summary>
internal static unsafe class CpuAttention
{
    /// <summary>Queries per block: enough to amortize packing the keys, few enough that the scores stay in L2.</summary>
    public const int BlockQueries = 64;

    [ThreadStatic] private static float[]? t_scores, t_grads, t_transposed, t_keyGrads, t_valueGrads;

    /// <summary>Consecutive tokens [First, First + Count) of cache row Row, attended together.</summary>
    public readonly record struct QueryBlock(int Row, int First, int Count);

    /// <summary>Runs of consecutive tokens of the same row, split into blocks of at most <see cref="BlockQueries"/>.</summary>
    public static List<QueryBlock> Blocks(int[] rows)
    {
        var blocks = new List<QueryBlock>();
        for (int i = 0; i < rows.Length;)
        {
            int start = i;
            while (i < rows.Length && rows[i] == rows[start] && i - start < BlockQueries) i++;
            blocks.Add(new QueryBlock(rows[start], start, i - start));
        }
        return blocks;
    }

    /// <summary>Where the tensors of one attention call are, in floats, and how they are laid out.</summary>
    public readonly struct Layout
    {
        public required float* Q { get; init; }
        public required float* Keys { get; init; }
        public required float* Values { get; init; }
        public required int* KeyTags { get; init; }
        public required int[] Positions { get; init; }
        public required int[] Tags { get; init; }
        public required int Heads { get; init; }
        public required int KvHeads { get; init; }
        public required int HeadDim { get; init; }
        public required int Capacity { get; init; }
        public required float Scale { get; init; }

        /// <summary>Floats between one token's rows of q (and output, dq, dOutput): all heads.</summary>
        public long TokenStride => (long)Heads * HeadDim;

        public long KvOffset(int row, int head) => ((long)row * KvHeads + head / (Heads / KvHeads)) * Capacity * HeadDim;

        public int KeyCount(QueryBlock b)
        {
            int max = 0;
            for (int i = b.First; i < b.First + b.Count; i++) max = Math.Max(max, Positions[i]);
            return max + 1;
        }
    }

    /// <summary>output (and logSumExp, if not null) of the block's queries for head <paramref name="h"/>.</summary>
    public static void Forward(in Layout l, QueryBlock b, int h, float* output, float* logSumExp)
    {
        int keys = l.KeyCount(b), ld = Padded(keys), dh = l.HeadDim;
        float* s = CpuScratch.Aligned(ref t_scores, (long)b.Count * ld);
        long kv = l.KvOffset(b.Row, h), q0 = b.First * l.TokenStride + (long)h * dh;
        CpuGemm.MultiplyTransposed(l.Q + q0, l.TokenStride, l.Keys + kv, dh, s, ld, b.Count, dh, keys, accumulate: false);
        int* keyTags = l.KeyTags + (long)b.Row * l.Capacity;
        for (int r = 0; r < b.Count; r++)
        {
            int i = b.First + r;
            var (max, sum) = Softmax(s + (long)r * ld, l.Positions[i] + 1, ld, l.Scale, l.Tags[i], keyTags);
            if (logSumExp is not null) logSumExp[(long)i * l.Heads + h] = max + MathF.Log(sum);
        }
        CpuGemm.Multiply(s, ld, l.Values + kv, dh, output + q0, l.TokenStride, b.Count, keys, dh, accumulate: false);
    }

    /// <summary>
    /// Gradients of every query of <paramref name="blocks"/> (all of one cache row) for the heads sharing KV head
    /// <paramref name="kvHead"/>: dq is written, and their keys' and values' gradients are added into dKeys and dValues.
    /// </summary>
    public static void Backward(in Layout l, List<QueryBlock> blocks, int kvHead, float* output, float* logSumExp, float* dOutput,
        float* dq, float* dKeys, float* dValues)
    {
        int row = blocks[0].Row, dh = l.HeadDim, group = l.Heads / l.KvHeads, rowKeys = 0;
        foreach (var b in blocks) rowKeys = Math.Max(rowKeys, l.KeyCount(b));
        int rowLd = Padded(rowKeys);
        // dK and dV are built transposed ([dh x keys], wide products over the keys), then added into the cache layout.
        float* dkT = CpuScratch.Aligned(ref t_keyGrads, (long)dh * rowLd);
        float* dvT = CpuScratch.Aligned(ref t_valueGrads, (long)dh * rowLd);
        new Span<float>(dkT, dh * rowLd).Clear();
        new Span<float>(dvT, dh * rowLd).Clear();
        int* keyTags = l.KeyTags + (long)row * l.Capacity;
        long kv = l.KvOffset(row, kvHead * group);
        for (int h = kvHead * group; h < (kvHead + 1) * group; h++)
            foreach (var b in blocks)
            {
                int keys = l.KeyCount(b), ld = Padded(keys), n = b.Count;
                long q0 = b.First * l.TokenStride + (long)h * dh;
                float* p = CpuScratch.Aligned(ref t_scores, (long)n * ld);
                float* ds = CpuScratch.Aligned(ref t_grads, (long)n * ld);
                float* transposed = CpuScratch.Aligned(ref t_transposed, (long)dh * n);
                CpuGemm.MultiplyTransposed(l.Q + q0, l.TokenStride, l.Keys + kv, dh, p, ld, n, dh, keys, accumulate: false);
                CpuGemm.MultiplyTransposed(dOutput + q0, l.TokenStride, l.Values + kv, dh, ds, ld, n, dh, keys, accumulate: false);
                for (int r = 0; r < n; r++)
                {
                    int i = b.First + r;
                    float* o = output + q0 + r * l.TokenStride, dO = dOutput + q0 + r * l.TokenStride;
                    float delta = 0;
                    for (int d = 0; d < dh; d++) delta += dO[d] * o[d];
                    ScoreGradients(p + (long)r * ld, ds + (long)r * ld, l.Positions[i] + 1, ld, l.Scale, logSumExp[(long)i * l.Heads + h],
                        delta, l.Tags[i], keyTags);
                }
                CpuGemm.Multiply(ds, ld, l.Keys + kv, dh, dq + q0, l.TokenStride, n, keys, dh, accumulate: false);
                Transpose(dOutput + q0, l.TokenStride, n, dh, transposed);
                CpuGemm.Multiply(transposed, n, p, ld, dvT, rowLd, dh, n, keys, accumulate: true);
                Transpose(l.Q + q0, l.TokenStride, n, dh, transposed);
                CpuGemm.Multiply(transposed, n, ds, ld, dkT, rowLd, dh, n, keys, accumulate: true);
            }
        for (int j = 0; j < rowKeys; j++)
        {
            float* dk = dKeys + kv + (long)j * dh, dv = dValues + kv + (long)j * dh;
            for (int d = 0; d < dh; d++)
            {
                dk[d] += dkT[(long)d * rowLd + j];
                dv[d] += dvT[(long)d * rowLd + j];
            }
        }
    }

    /// <summary>Scores rows start 64-byte aligned, so a row's vector chunks do not depend on where the block starts.</summary>
    private static int Padded(int keys) => (keys + 15) & ~15;

    /// <summary>dst[d * count + r] = src[r * stride + d]: a block's [count x dh] rows as [dh x count].</summary>
    private static void Transpose(float* src, long stride, int count, int dh, float* dst)
    {
        for (int r = 0; r < count; r++)
            for (int d = 0; d < dh; d++) dst[(long)d * count + r] = src[r * stride + d];
    }

    /// <summary>
    /// Turns a row of raw scores q.k into attention weights in place: scaled, masked (keys past <paramref name="keys"/>
    /// and other concepts' tokens get exactly 0), softmax. Returns the row's max scaled score and the sum of exp(score - max).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (float Max, float Sum) Softmax(float* s, int keys, int ld, float scale, int tag, int* keyTags)
    {
        int j;
        var vmax = Vector512.Create(float.NegativeInfinity);
        for (j = 0; j + 16 <= keys; j += 16)
        {
            var v = Masked(Vector512.Load(s + j) * scale, tag, keyTags + j);
            v.Store(s + j);
            vmax = Vector512.Max(vmax, v);
        }
        float max = float.NegativeInfinity;
        for (int e = 0; e < 16; e++) max = Math.Max(max, vmax[e]);
        for (int t = j; t < keys; t++)
        {
            s[t] = CpuBackend.Visible(tag, keyTags[t]) ? s[t] * scale : float.NegativeInfinity;
            max = Math.Max(max, s[t]);
        }
        var vm = Vector512.Create(max);
        var vsum = Vector512<float>.Zero;
        for (j = 0; j + 16 <= keys; j += 16)
        {
            var e = CpuMath.Exp(Vector512.Load(s + j) - vm);
            e.Store(s + j);
            vsum += e;
        }
        float sum = Vector512.Sum(vsum);
        for (int t = j; t < keys; t++)
        {
            s[t] = MathF.Exp(s[t] - max);
            sum += s[t];
        }
        var inv = Vector512.Create(1f / sum);
        for (j = 0; j + 16 <= keys; j += 16) (Vector512.Load(s + j) * inv).Store(s + j);
        for (int t = j; t < keys; t++) s[t] *= 1f / sum;
        new Span<float>(s + keys, ld - keys).Clear();
        return (max, sum);
    }

    /// <summary>
    /// p = exp(scale q.k - lse) (0 where masked) in place of the raw scores, and dS = scale p (dP - delta) in place of
    /// dP = dO.v; both rows are zero past <paramref name="keys"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreGradients(float* p, float* ds, int keys, int ld, float scale, float lse, float delta, int tag, int* keyTags)
    {
        int j;
        var vlse = Vector512.Create(lse);
        var vdelta = Vector512.Create(delta);
        for (j = 0; j + 16 <= keys; j += 16)
        {
            var e = CpuMath.Exp(Masked(Vector512.Load(p + j) * scale, tag, keyTags + j) - vlse);
            e.Store(p + j);
            (e * (Vector512.Load(ds + j) - vdelta) * scale).Store(ds + j);
        }
        for (; j < keys; j++)
        {
            float e = CpuBackend.Visible(tag, keyTags[j]) ? MathF.Exp(p[j] * scale - lse) : 0f;
            p[j] = e;
            ds[j] = e * (ds[j] - delta) * scale;
        }
        new Span<float>(p + keys, ld - keys).Clear();
        new Span<float>(ds + keys, ld - keys).Clear();
    }

    /// <summary>Scores of keys a query with <paramref name="tag"/> may not see (another concept's tokens) set to -inf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Masked(Vector512<float> scores, int tag, int* keyTags)
    {
        if (tag == 0) return scores;
        var kt = Vector512.Load(keyTags);
        var visible = Vector512.Equals(kt, Vector512<int>.Zero) | Vector512.Equals(kt, Vector512.Create(tag));
        return Vector512.ConditionalSelect(visible.AsSingle(), scores, Vector512.Create(float.NegativeInfinity));
    }
}
