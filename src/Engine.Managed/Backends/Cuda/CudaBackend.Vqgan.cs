using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using CoAR.Engine.Managed.Tensors;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.Conv2dKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.VqganAttentionKernels;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.VqganKernels;

namespace CoAR.Engine.Managed.Backends.Cuda;

/// <summary>
/// The image tokenizer's ops on F32 NCHW activations with BF16 or F32 weights (kernels/conv2d.cu, vqgan.cu,
/// vqgan_attention.cu): the VQGAN runs in fp32 on this backend, as on the CPU.
/// </summary>
public sealed partial class CudaBackend
{
    private const int ConvTile = 64;
    private const int ConvThreads = 256;
    private const int GroupNormThreads = 256;
    private const int GroupNormChunk = 8192; // GROUPNORM_CHUNK in kernels/vqgan.cu
    private const int ArgminPositions = 32;
    private const int ArgminEntries = 64;
    private const int ArgminThreads = 256;
    private const int AttentionQueries = 16;
    private const int AttentionChannels = 512; // SA_THREADS x SA_CHANNELS_PER_THREAD in kernels/vqgan_attention.cu
    private const int AttentionThreads = 256;

    public void Conv2d(Tensor x, Tensor weight, Tensor? bias, Conv2dGeometry geometry, Tensor y)
    {
        const string op = "Conv2d";
        CheckF32(op, "x", x);
        CheckFloat(op, "weight", weight);
        CheckF32(op, "y", y);
        if (bias is not null) CheckFloat(op, "bias", bias);
        var (n, cin, h, w, cout, kh, kw, ho, wo) = OpShapes.Conv2d(op, x, weight, bias, geometry, y);
        if (y.ElementCount == 0) return;
        var args = new ConvArgs
        {
            Y = Ptr(y), X = Ptr(x), Weight = Ptr(weight), WeightBf16 = Bf16(weight), Bias = bias is null ? 0 : Ptr(bias),
            BiasType = bias is null ? 0 : bias.DType == DType.BF16 ? 2 : 1, Cin = cin, H = h, W = w, Cout = cout, Kh = kh, Kw = kw, Ho = ho,
            Wo = wo, Stride = geometry.Stride, PadTop = geometry.PadTop, PadLeft = geometry.PadLeft,
        };
        var kernel = (kh, kw) switch
        {
            (1, 1) => Conv2dKernels.Kernel1x1,
            (3, 3) => Conv2dKernels.Kernel3x3,
            _ => Conv2dKernels.AnyKernel,
        };
        long pixelTiles = ((long)ho * wo + ConvTile - 1) / ConvTile;
        var grid = new Dim3(checked((uint)pixelTiles), (uint)((cout + ConvTile - 1) / ConvTile), (uint)n);
        Launch(kernel, grid, ConvThreads, ref args);
    }

    /// <summary>Statistics per (sample, group) from chunks of many blocks, merged in fp64; y may be x.</summary>
    public void GroupNorm(Tensor x, Tensor gamma, Tensor beta, int groups, float eps, bool swish, Tensor y)
    {
        const string op = "GroupNorm";
        CheckF32(op, "x", x);
        CheckFloat(op, "gamma", gamma);
        CheckSameType(op, "beta", beta, gamma);
        CheckF32(op, "y", y);
        var (n, c, h, w) = OpShapes.GroupNorm(op, x, gamma, beta, groups, y);
        long hw = (long)h * w;
        long count = c / groups * hw;
        if (n == 0 || count == 0) return;
        int chunks = checked((int)((count + GroupNormChunk - 1) / GroupNormChunk));
        var grid = new Dim3((uint)chunks, checked((uint)(n * groups)));
        ulong partial = _kernels.Scratch("groupnorm_partials", (long)n * groups * chunks * 3 * sizeof(double));
        var stats = new GroupNormStatsArgs
        {
            Partial = partial, X = Ptr(x), Count = count, Chunks = chunks, Vec = Flag(count % 4 == 0 && Aligned16(x)),
        };
        Launch(VqganKernels.GroupNormStats, grid, GroupNormThreads, ref stats);
        var apply = new GroupNormApplyArgs
        {
            Y = Ptr(y), X = Ptr(x), Partial = partial, Gamma = Ptr(gamma), Beta = Ptr(beta), WeightBf16 = Bf16(gamma), Groups = groups,
            ChannelsPerGroup = c / groups, Hw = hw, Chunks = chunks, Eps = eps, Swish = Flag(swish), Vec = Flag(hw % 4 == 0 && Aligned16(x, y)),
        };
        Launch(VqganKernels.GroupNormApply, grid, GroupNormThreads, ref apply);
    }

    public void Upsample2x(Tensor x, Tensor y)
    {
        const string op = "Upsample2x";
        CheckF32(op, "x", x);
        CheckF32(op, "y", y);
        int w = OpShapes.Upsample2x(op, x, y).W;
        long count = x.ElementCount;
        if (count == 0) return;
        var args = new UpsampleArgs { Y = Ptr(y), X = Ptr(x), Count = count, W = w, Pairs = Flag((y.Address & 7) == 0) };
        Launch(VqganKernels.Upsample2x, StrideGrid(count, PointwiseThreads), PointwiseThreads, ref args);
    }

    public void SpatialAttention(Tensor q, Tensor k, Tensor v, Tensor y)
    {
        const string op = "SpatialAttention";
        CheckF32(op, "q", q);
        CheckF32(op, "k", k);
        CheckF32(op, "v", v);
        CheckF32(op, "y", y);
        var (n, c, p) = OpShapes.SpatialAttention(op, q, k, v, y);
        if (n == 0 || p == 0 || c == 0) return;
        var args = new SpatialAttentionArgs
        {
            Y = Ptr(y), Q = Ptr(q), K = Ptr(k), V = Ptr(v), Channels = c, Positions = p, Scale = (float)(1.0 / Math.Sqrt(c)),
            Vec = Flag(p % 4 == 0 && Aligned16(v)),
        };
        var grid = new Dim3((uint)((p + AttentionQueries - 1) / AttentionQueries), (uint)((c + AttentionChannels - 1) / AttentionChannels), (uint)n);
        Launch(VqganAttentionKernels.SpatialAttention, grid, AttentionThreads, ref args);
    }

    /// <summary>
    /// The nearest entry per position: position tiles x entry splits (enough blocks to fill the device), each split's
    /// best kept in scratch, then the splits merged in entry order so the smallest index wins ties.
    /// </summary>
    public void CodebookArgmin(Tensor z, Tensor codebook, Tensor codes)
    {
        const string op = "CodebookArgmin";
        CheckCodebookTypes(op, z, codebook, codes);
        var (n, c, p, entries) = OpShapes.CodebookArgmin(op, z, codebook, codes);
        if (n * p == 0) return;

        ulong norms = _kernels.Scratch("codebook_norms", (long)entries * sizeof(float));
        var normArgs = new CodebookNormArgs { Norms = norms, Codebook = Ptr(codebook), WeightBf16 = Bf16(codebook), Entries = entries, Channels = c };
        Launch(VqganKernels.CodebookNorms, StrideGrid(entries, PointwiseThreads), PointwiseThreads, ref normArgs);

        int positionTiles = (p + ArgminPositions - 1) / ArgminPositions;
        int entryTiles = (entries + ArgminEntries - 1) / ArgminEntries;
        long wanted = 2L * _context.Device.MultiprocessorCount;
        int splits = (int)Math.Clamp((wanted + (long)positionTiles * n - 1) / ((long)positionTiles * n), 1, entryTiles);
        int tilesPerSplit = (entryTiles + splits - 1) / splits;
        splits = (entryTiles + tilesPerSplit - 1) / tilesPerSplit;
        long candidates = (long)n * splits * p;
        ulong bestDistance = _kernels.Scratch("codebook_best_distance", candidates * sizeof(float));
        ulong bestIndex = _kernels.Scratch("codebook_best_index", candidates * sizeof(int));
        var partial = new ArgminPartialArgs
        {
            BestDistance = bestDistance, BestIndex = bestIndex, Z = Ptr(z), Codebook = Ptr(codebook), WeightBf16 = Bf16(codebook), Norms = norms,
            Entries = entries, Channels = c, Positions = p, TilesPerSplit = tilesPerSplit, Splits = splits,
        };
        Launch(VqganKernels.CodebookArgminPartial, new Dim3((uint)positionTiles, (uint)splits, (uint)n), ArgminThreads, ref partial);
        var final = new ArgminFinalArgs
        {
            Codes = Ptr(codes), BestDistance = bestDistance, BestIndex = bestIndex, Count = (long)n * p, Positions = p, Splits = splits,
        };
        Launch(VqganKernels.CodebookArgminFinal, StrideGrid((long)n * p, PointwiseThreads), PointwiseThreads, ref final);
    }

    /// <summary>z[n, :, p] = codebook[codes[n, p]]. The codes are downloaded and checked first, like the CPU does (a decode is rare).</summary>
    public void CodebookLookup(Tensor codes, Tensor codebook, Tensor z)
    {
        const string op = "CodebookLookup";
        CheckCodebookTypes(op, z, codebook, codes);
        var (_, c, p, entries) = OpShapes.CodebookLookup(op, codes, codebook, z);
        var ids = new int[codes.ElementCount];
        Download<int>(codes, ids);
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)entries)
                throw new ArgumentOutOfRangeException(nameof(codes),
                    $"{op}: code {ids[i]} at sample {i / p}, position {i % p} is outside the codebook [0, {entries})");
        long count = z.ElementCount;
        if (count == 0) return;
        var args = new LookupArgs
        {
            Z = Ptr(z), Codes = Ptr(codes), Codebook = Ptr(codebook), WeightBf16 = Bf16(codebook), Entries = entries, Channels = c, Positions = p,
            Count = count,
        };
        Launch(VqganKernels.CodebookLookup, StrideGrid(count, PointwiseThreads), PointwiseThreads, ref args);
    }

    /// <summary>z F32, codebook BF16 or F32, codes I32 (their shapes: <see cref="OpShapes"/>).</summary>
    private void CheckCodebookTypes(string op, Tensor z, Tensor codebook, Tensor codes)
    {
        CheckF32(op, "z", z);
        CheckFloat(op, "codebook", codebook);
        CheckI32(op, "codes", codes);
    }
}
