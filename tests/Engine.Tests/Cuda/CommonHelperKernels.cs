using CoAR.Engine.Managed.Cuda;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// Test-only kernels that exercise common.cuh's helpers no production kernel uses yet (ldmatrix + mma.sync, warp
/// reductions, fast_exp2), compiled against the embedded header. The compile test proves the inline PTX assembles
/// for sm_80 and sm_90; the CUDA tests compare the results with C#. The source is Cuda/TestKernels/common_helpers_check.cu,
/// embedded in this assembly; the CUDA driver stand-in builds it too.
/// </summary>
internal static class CommonHelperKernels
{
    public const string FileName = "common_helpers_check.cu";

    public static KernelSourceSet Sources => KernelSourceSet.Embedded.With(FileName, Source.Value);

    private static readonly Lazy<string> Source = new(() =>
    {
        using var stream = typeof(CommonHelperKernels).Assembly.GetManifestResourceStream($"test-kernels/{FileName}")
            ?? throw new InvalidOperationException($"the test assembly does not embed test-kernels/{FileName}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });
}
