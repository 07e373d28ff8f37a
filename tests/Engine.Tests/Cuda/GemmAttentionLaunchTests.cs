using System.Reflection;
using System.Text.RegularExpressions;
using CoAR.Engine.Managed.Backends.Cuda;
using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// What can go wrong in the GEMM and attention launchers without a GPU to show it: an argument struct that C would
/// lay out differently (KernelArgumentLayout refuses it at the first launch), or a kernel name no kernel file defines.
/// </summary>
public class GemmAttentionLaunchTests
{
    private static readonly Type[] Launchers = [typeof(CudaGemm), typeof(CudaAttention)];

    private static IEnumerable<TestCaseData> ArgumentStructs() =>
        from launcher in Launchers
        from type in launcher.GetNestedTypes(BindingFlags.NonPublic)
        where type.IsValueType
        select new TestCaseData(type).SetName($"ArgumentsLayOutLikeC({launcher.Name}.{type.Name})");

    [TestCaseSource(nameof(ArgumentStructs))]
    public void ArgumentsLayOutLikeC(Type arguments)
    {
        var layout = typeof(KernelArgumentLayout<>).MakeGenericType(arguments);
        var offsets = (int[])layout.GetField("Offsets")!.GetValue(null)!;

        Assert.That(offsets, Has.Length.EqualTo(arguments.GetFields(BindingFlags.Instance | BindingFlags.Public).Length));
        Assert.That(offsets, Is.Ordered.Ascending.And.Unique);
    }

    [Test]
    public void EveryKernelTheLaunchersNameIsDefined()
    {
        var sources = KernelSourceSet.Embedded;
        var defined = sources.KernelFiles.SelectMany(f => DefinedKernels(sources.Source(f))).ToHashSet();
        var named = Launchers.SelectMany(KernelNames).ToList();

        Assert.That(named, Has.Count.GreaterThan(30), "the launchers' kernel name tables were not found");
        Assert.That(named.Where(n => !defined.Contains(n)), Is.Empty);
    }

    /// <summary>Every string constant and string-array field of a launcher (its kernel name tables).</summary>
    private static IEnumerable<string> KernelNames(Type launcher)
    {
        foreach (var field in launcher.GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public))
        {
            var value = field.IsLiteral ? field.GetRawConstantValue() : field.GetValue(null);
            if (value is string name) yield return name;
            if (value is string[] names)
                foreach (var n in names) yield return n;
        }
    }

    /// <summary>extern "C" entry points, written out or instantiated through a COAR_*_KERNEL(name, ...) macro.</summary>
    private static IEnumerable<string> DefinedKernels(string source) =>
        Regex.Matches(source, @"^COAR_\w+_KERNEL\((\w+),", RegexOptions.Multiline).Select(m => m.Groups[1].Value)
            .Concat(Regex.Matches(source, @"extern ""C"" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(")
                .Select(m => m.Groups[1].Value));
}
