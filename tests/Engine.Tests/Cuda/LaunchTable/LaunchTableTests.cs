using System.Text.RegularExpressions;
using CoAR.Engine.Managed.Backends.Cuda.Kernels;
using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;
using static CoAR.Engine.Managed.Backends.Cuda.Kernels.NormKernels;

namespace CoAR.Engine.Tests.Cuda.LaunchTable;

// The structs below exist for their layout only; their fields are never written.
#pragma warning disable CS0649

/// <summary>
/// Every kernel the CUDA backend launches, as its launch tables (Backends/Cuda/Kernels) describe it, against the
/// kernels' own declarations in kernels/*.cu, read through the C preprocessor: no GPU and no driver involved. A
/// swapped int and float, a pointer passed as a long, a missing parameter or a kernel renamed on one side fails here.
/// </summary>
public class LaunchTableTests
{
    private static readonly Lazy<IReadOnlyDictionary<string, IReadOnlyList<KernelDeclaration>>> Declarations =
        new(() => KernelDeclarations.Read(KernelSourceSet.Embedded));

    private static IEnumerable<TestCaseData> Descriptors() =>
        LaunchTableCheck.AllDescriptors().Select(d => new TestCaseData(d).SetName($"MatchesItsKernel({d})"));

    [TestCaseSource(nameof(Descriptors))]
    public void MatchesItsKernel(KernelDescriptor descriptor) =>
        Assert.That(LaunchTableCheck.Check(descriptor, Declarations.Value), Is.Empty);

    [Test]
    public void EveryKernelInTheSourcesIsLaunchedAndDescribedOnce()
    {
        var described = LaunchTableCheck.AllDescriptors().Select(d => $"{d.File}:{d.Name}").ToList();
        var declared = Declarations.Value.Values.SelectMany(f => f).Select(d => $"{d.File}:{d.Name}").ToList();

        Assert.That(declared, Has.Count.GreaterThan(90), "the kernel declarations were not found");
        Assert.That(described, Is.Unique);
        Assert.That(declared.Except(described), Is.Empty, "kernels nothing launches: remove them, or launch them through a table");
        Assert.That(Declarations.Value.Where(f => f.Value.Count == 0).Select(f => f.Key), Is.Empty, "kernel files without a kernel");
    }

    /// <summary>
    /// The tables are the only way to a kernel: KernelLibrary takes descriptors, and nothing else in the engine names
    /// a kernel file, looks a kernel up by name or makes a descriptor.
    /// </summary>
    [Test]
    public void OnlyTheTablesNameKernels()
    {
        string src = Path.Combine(RepoRoot.Path, "src");
        string tables = Path.Combine(src, "Engine.Managed", "Backends", "Cuda", "Kernels") + Path.DirectorySeparatorChar;
        string library = Path.Combine(src, "Engine.Managed", "Backends", "Cuda", "KernelLibrary.cs");
        var offenders = new List<string>();
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            if (file.StartsWith(tables, StringComparison.Ordinal) || file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
                continue;
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                string code = lines[i].TrimStart();
                if (code.StartsWith("//", StringComparison.Ordinal)) continue;
                bool names = Regex.IsMatch(code, @"""\w+\.cu""") || Regex.IsMatch(code, @"new\s+(KernelDescriptor|ByDType|ByDTypePair|AttentionVariants)<")
                    || (code.Contains(".GetKernel(", StringComparison.Ordinal) && file != library);
                if (names) offenders.Add($"{Path.GetRelativePath(src, file)}:{i + 1}: {code}");
            }
        }
        Assert.That(offenders, Is.Empty);
    }

    // Deliberately wrong descriptors of rmsnorm_fwd_bf16(bf16* y, const bf16* x, const void* weight, int weight_bf16,
    // int d, float eps, int vec): the check must catch each one, or a clean run above proves nothing.

    private struct SwappedIntAndFloat
    {
        public ulong Y, X, Weight;
        public int WeightBf16;
        public float D;
        public int Eps, Vec;
    }

    private struct PointerAsLong
    {
        public ulong Y, X;
        public long Weight;
        public int WeightBf16, D;
        public float Eps;
        public int Vec;
    }

    private struct SwappedSameType
    {
        public ulong Y, X, Weight;
        public int D, WeightBf16;
        public float Eps;
        public int Vec;
    }

    private struct MissingParameter
    {
        public ulong Y, X, Weight;
        public int WeightBf16, D;
        public float Eps;
    }

    private struct LongLongAsInt
    {
        public ulong Dx, X, Dy;
        public int DyBf16;
        public ulong Gamma;
        public int WeightBf16, Rows, Heads, Dh, HeadsPerGroup;
        public float Eps;
        public int Vec;
    }

    private static IEnumerable<TestCaseData> WrongDescriptors()
    {
        yield return Wrong(new KernelDescriptor<RmsNormArgs>("norms.cu", "rmsnorm_fwd_bf17"), "norms.cu declares no extern \"C\" kernel rmsnorm_fwd_bf17");
        yield return Wrong(new KernelDescriptor<RmsNormArgs>("rows.cu", "rmsnorm_fwd_bf16"), "(it is declared in norms.cu)");
        yield return Wrong(new KernelDescriptor<SwappedIntAndFloat>("norms.cu", "rmsnorm_fwd_bf16"),
            "parameter 4 'd' (int) is passed from SwappedIntAndFloat.D (Single); expected int");
        yield return Wrong(new KernelDescriptor<SwappedSameType>("norms.cu", "rmsnorm_fwd_bf16"),
            "parameter 3 'weight_bf16' (int) is passed from field D, which names another parameter or none");
        yield return Wrong(new KernelDescriptor<PointerAsLong>("norms.cu", "rmsnorm_fwd_bf16"),
            "parameter 2 'weight' (const void*) is passed from PointerAsLong.Weight (Int64); expected a 64-bit device address (ulong)");
        yield return Wrong(new KernelDescriptor<MissingParameter>("norms.cu", "rmsnorm_fwd_bf16"), "6 fields for the 7 parameters of rmsnorm_fwd_bf16(");
        yield return Wrong(new KernelDescriptor<LongLongAsInt>("norms.cu", "headnorm_bwd_bf16"),
            "parameter 6 'rows' (long long) is passed from LongLongAsInt.Rows (Int32); expected long");
        yield return Wrong(new KernelDescriptor<RmsNormBackwardArgs>("norms.cu", "rmsnorm_fwd_bf16"), "10 fields for the 7 parameters");
    }

    private static TestCaseData Wrong(KernelDescriptor descriptor, string expected) =>
        new TestCaseData(descriptor, expected).SetName($"AWrongDescriptorIsCaught({descriptor.Arguments.Name} for {descriptor})");

    [TestCaseSource(nameof(WrongDescriptors))]
    public void AWrongDescriptorIsCaught(KernelDescriptor descriptor, string expected)
    {
        var problems = LaunchTableCheck.Check(descriptor, Declarations.Value);
        Assert.That(problems, Has.Some.Contain(expected), string.Join("\n", problems));
    }

    // A struct passed by value must match the C struct member for member, at C's offsets.
    private const string ByValueSource = """
        #include "common.cuh"
        struct __align__(8) Window { int start; float scale; long long stride; bf16 fill; };
        extern "C" __global__ void by_value_f32(float* out, Window window, bf16 value) { out[0] = window.scale; }
        """;

    private struct Bf16Bits
    {
        public ushort Bits;
    }

    private struct Window
    {
        public int Start;
        public float Scale;
        public long Stride;
        public Bf16Bits Fill;
    }

    private struct ByValueArgs
    {
        public ulong Out;
        public Window Window;
        public Bf16Bits Value;
    }

    private struct WindowSwapped
    {
        public float Start;
        public int Scale;
        public long Stride;
        public Bf16Bits Fill;
    }

    private struct WindowShort
    {
        public int Start;
        public float Scale;
        public int Stride;
        public Bf16Bits Fill;
    }

    private struct ByValueSwappedArgs
    {
        public ulong Out;
        public WindowSwapped Window;
        public Bf16Bits Value;
    }

    private struct ByValueShortArgs
    {
        public ulong Out;
        public WindowShort Window;
        public Bf16Bits Value;
    }

    private struct ByValueScalarArgs
    {
        public ulong Out;
        public Window Window;
        public float Value;
    }

    private static IReadOnlyDictionary<string, IReadOnlyList<KernelDeclaration>> ByValueDeclarations() =>
        KernelDeclarations.Read(new KernelSourceSet(new Dictionary<string, string>
        {
            ["common.cuh"] = KernelSourceSet.Embedded.Headers.Single(h => h.Key == "common.cuh").Value,
            ["by_value.cu"] = ByValueSource,
        }));

    [Test]
    public void AStructPassedByValueIsCheckedMemberByMember()
    {
        var declarations = ByValueDeclarations();
        var window = declarations["by_value.cu"].Single().Parameters[1];
        Assert.That(window.Type.Kind, Is.EqualTo(CKind.Struct));
        Assert.That(window.Type.Members.Select(m => m.Offset), Is.EqualTo(new[] { 0, 4, 8, 16 }));
        Assert.That((window.Type.Size, window.Type.Alignment), Is.EqualTo((24, 8)));

        Assert.That(LaunchTableCheck.Check(new KernelDescriptor<ByValueArgs>("by_value.cu", "by_value_f32"), declarations), Is.Empty);
        Assert.That(LaunchTableCheck.Check(new KernelDescriptor<ByValueSwappedArgs>("by_value.cu", "by_value_f32"), declarations),
            Has.Some.Contain("member Window.start (int) is passed from WindowSwapped.Start (Single); expected int"));
        Assert.That(LaunchTableCheck.Check(new KernelDescriptor<ByValueShortArgs>("by_value.cu", "by_value_f32"), declarations),
            Has.Some.Contain("is 24 bytes in C, ByValueShortArgs.Window (WindowShort) is 16")
                .And.Some.Contain("member Window.fill is at offset 16 in C, WindowShort.Fill at 12"));
        Assert.That(LaunchTableCheck.Check(new KernelDescriptor<ByValueScalarArgs>("by_value.cu", "by_value_f32"), declarations),
            Has.Some.Contain("parameter 2 'value' (bf16) is a struct of 2 bytes passed by value, but ByValueScalarArgs.Value (Single) is not a struct"));
    }

    [Test]
    public void AParameterTypeWithoutAnAgreedSizeIsRefused()
    {
        var sources = new KernelSourceSet(new Dictionary<string, string> { ["long.cu"] = "extern \"C\" __global__ void takes_long(float* out, long n) {}\n" });
        Assert.That(() => KernelDeclarations.Read(sources),
            Throws.InstanceOf<FormatException>().With.Message.Contain("long.cu: kernel takes_long, parameter 'n': 'long' has no size"));
    }

}
