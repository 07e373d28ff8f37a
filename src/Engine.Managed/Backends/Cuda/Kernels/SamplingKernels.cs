namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>kernels/sampling.cu: classifier-free guidance, the layout constraint and the top-k draw on F32 logits.</summary>
internal static class SamplingKernels
{
    private const string File = "sampling.cu";

    public static readonly KernelDescriptor<CfgArgs> CfgCombine = new(File, "cfg_combine_f32");
    public static readonly KernelDescriptor<ConstrainArgs> ConstrainLogits = new(File, "constrain_logits_f32");
    public static readonly KernelDescriptor<SampleArgs> SampleTopK = new(File, "sample_topk_f32");

    public struct CfgArgs
    {
        public ulong Out, Cond, Uncond, Scales;
        public int V, Vec;
    }

    public struct ConstrainArgs
    {
        public ulong Logits, Rules;
        public int V, Vec;
    }

    public struct SampleArgs
    {
        public ulong Out, Logits, TopK, Temperature, RngKeys;
        public int V, Vec;
    }
}
