namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/vqgan.cu: GroupNorm (statistics, then apply), nearest upsampling, and the codebook's norms, argmin and lookup.</summary>
internal static class VqganKernels
{
    private const string File = "vqgan.cu";

    public static readonly KernelDescriptor<GroupNormStatsArgs> GroupNormStats = new(File, "groupnorm_stats_f32");
    public static readonly KernelDescriptor<GroupNormApplyArgs> GroupNormApply = new(File, "groupnorm_apply_f32");
    public static readonly KernelDescriptor<UpsampleArgs> Upsample2x = new(File, "upsample2x_f32");
    public static readonly KernelDescriptor<CodebookNormArgs> CodebookNorms = new(File, "codebook_norms");
    public static readonly KernelDescriptor<ArgminPartialArgs> CodebookArgminPartial = new(File, "codebook_argmin_partial");
    public static readonly KernelDescriptor<ArgminFinalArgs> CodebookArgminFinal = new(File, "codebook_argmin_final");
    public static readonly KernelDescriptor<LookupArgs> CodebookLookup = new(File, "codebook_lookup_f32");

    public struct GroupNormStatsArgs
    {
        public ulong Partial, X;
        public long Count;
        public int Chunks, Vec;
    }

    public struct GroupNormApplyArgs
    {
        public ulong Y, X, Partial, Gamma, Beta;
        public int WeightBf16, Groups, ChannelsPerGroup;
        public long Hw;
        public int Chunks;
        public float Eps;
        public int Swish, Vec;
    }

    public struct UpsampleArgs
    {
        public ulong Y, X;
        public long Count;
        public int W, Pairs;
    }

    public struct CodebookNormArgs
    {
        public ulong Norms, Codebook;
        public int WeightBf16, Entries, Channels;
    }

    public struct ArgminPartialArgs
    {
        public ulong BestDistance, BestIndex, Z, Codebook;
        public int WeightBf16;
        public ulong Norms;
        public int Entries, Channels, Positions, TilesPerSplit, Splits;
    }

    public struct ArgminFinalArgs
    {
        public ulong Codes, BestDistance, BestIndex;
        public long Count;
        public int Positions, Splits;
    }

    public struct LookupArgs
    {
        public ulong Z, Codes, Codebook;
        public int WeightBf16, Entries, Channels, Positions;
        public long Count;
    }
}
