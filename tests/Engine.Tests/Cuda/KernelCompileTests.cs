using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// Every kernels/*.cu file (as embedded, so a new file is picked up without touching this test) compiles with NVRTC
/// for sm_80 and sm_90 with no error and no warning.
/// </summary>
public class KernelCompileTests
{
    private static readonly ComputeCapability[] Targets = [new(8, 0), new(9, 0)];

    private static IEnumerable<TestCaseData> EveryKernelFileAndTarget() =>
        from file in KernelSourceSet.Embedded.KernelFiles
        from target in Targets
        select new TestCaseData(file, target.Value).SetName($"Compiles({file}, {target.SmName})");

    [TestCaseSource(nameof(EveryKernelFileAndTarget))]
    public void Compiles(string kernelFile, int architecture)
    {
        NvrtcRequirement.EnsureLoaded();
        var compiler = new KernelCompiler(new KernelCompilerOptions());
        var compiled = compiler.Compile(kernelFile, ComputeCapability.FromValue(architecture));

        Assert.That(compiled.Log, Does.Not.Contain("warning").IgnoreCase, $"NVRTC warned on {kernelFile}:\n{compiled.Log}");
        Assert.That(compiled.Image.AsSpan(0, 4).ToArray(), Is.EqualTo("\u007fELF"u8.ToArray()), "a CUBIN is an ELF file");
        Assert.That(compiled.CacheOutcome, Is.EqualTo(KernelCacheOutcome.Disabled));
    }

    [Test]
    public void TheEmbeddedSetHasThePointwiseKernelsAndTheCommonHeader()
    {
        var sources = KernelSourceSet.Embedded;
        Assert.That(sources.KernelFiles, Does.Contain("pointwise.cu"));
        Assert.That(sources.Headers.Select(h => h.Key), Does.Contain("common.cuh"));
        Assert.That(sources.Source("pointwise.cu"), Does.Contain("extern \"C\" __global__ void add_bf16"));
    }

    [Test]
    public void NvrtcKnowsBothTargetArchitectures()
    {
        NvrtcRequirement.EnsureLoaded();
        var supported = Nvrtc.SupportedArchitectures;
        if (supported.Count == 0)
            Assert.Ignore($"NVRTC {Nvrtc.Version} cannot list its architectures (nvrtcGetSupportedArchs is 11.2+)");
        Assert.That(supported, Does.Contain(new ComputeCapability(8, 0)).And.Contain(new ComputeCapability(9, 0)));
    }

    [Test]
    public void PtxTargetsTheVirtualArchitecture()
    {
        NvrtcRequirement.EnsureLoaded();
        var compiled = new KernelCompiler(new KernelCompilerOptions()).Compile("pointwise.cu", new ComputeCapability(8, 0), KernelTarget.Ptx);
        var ptx = System.Text.Encoding.UTF8.GetString(compiled.Image);

        Assert.That(ptx, Does.Contain(".target sm_80"));
        Assert.That(ptx, Does.Contain(".entry add_f32("));
        Assert.That(compiled.Options, Does.Contain("--gpu-architecture=compute_80"));
    }

    [Test]
    public void ACompileErrorCarriesTheLogFileAndOptions()
    {
        NvrtcRequirement.EnsureLoaded();
        var sources = KernelSourceSet.Embedded.With("broken.cu", "#include \"common.cuh\"\nextern \"C\" __global__ void broken_f32(float* x) { x[0] = undeclared_name; }\n");
        var compiler = new KernelCompiler(new KernelCompilerOptions { Sources = sources });

        var error = Assert.Throws<KernelCompileException>(() => compiler.Compile("broken.cu", new ComputeCapability(9, 0)))!;
        Assert.That(error.KernelFile, Is.EqualTo("broken.cu"));
        Assert.That(error.Log, Does.Contain("broken.cu(2)").And.Contain("undeclared_name"));
        Assert.That(error.Options, Does.Contain("--gpu-architecture=sm_90"));
        Assert.That(error.Message, Does.Contain("nvrtcCompileProgram").And.Contain("-std=c++17").And.Contain("undeclared_name"));
    }

    private const string UnusedVariable = "extern \"C\" __global__ void warns_f32(float* x) { int unused = 3; x[0] = 1.0f; }\n";

    // 320 live floats per thread cannot fit in 255 registers.
    private const string Spills = """
        extern "C" __global__ void spills_f32(float* out, const float* in, int k) {
            float values[320];
        #pragma unroll
            for (int i = 0; i < 320; i++) values[i] = in[i * 33 + threadIdx.x];
            float sum = 0.0f;
        #pragma unroll
            for (int i = 0; i < 320; i++) sum += values[(i * 13) % 320] * values[i];
            out[threadIdx.x] = sum + values[k];
        }
        """;

    [TestCase(UnusedVariable, "unused", TestName = "AWarningReachesTheLog(unused variable)")]
    [TestCase(Spills, "spill", TestName = "AWarningReachesTheLog(register spill)")]
    public void AWarningReachesTheLog(string source, string expected)
    {
        // The strict check above only means something if NVRTC's and ptxas's warnings do show up in the log we read.
        NvrtcRequirement.EnsureLoaded();
        var sources = KernelSourceSet.Embedded.With("warns.cu", source);
        var compiled = new KernelCompiler(new KernelCompilerOptions { Sources = sources }).Compile("warns.cu", new ComputeCapability(8, 0));

        Assert.That(compiled.Log, Does.Contain("warning").IgnoreCase.And.Contain(expected));
    }

    [Test]
    public void TheCommonHelpersAssembleForBothTargets()
    {
        NvrtcRequirement.EnsureLoaded();
        var compiler = new KernelCompiler(new KernelCompilerOptions { Sources = CommonHelperKernels.Sources });
        foreach (var target in Targets)
        {
            var compiled = compiler.Compile(CommonHelperKernels.FileName, target);
            Assert.That(compiled.Log, Does.Not.Contain("warning").IgnoreCase, compiled.Log);
            Assert.That(compiled.Image, Is.Not.Empty);
        }
    }
}
