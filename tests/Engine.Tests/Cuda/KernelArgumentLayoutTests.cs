using System.Runtime.InteropServices;
using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

// The structs below exist for their layout only; their fields are never written.
#pragma warning disable CS0649

/// <summary>
/// A launch hands the driver one pointer per kernel parameter into the argument struct; these offsets must be where
/// .NET put the fields (checked against Marshal.OffsetOf) and where C puts the parameters.
/// </summary>
public class KernelArgumentLayoutTests
{
    private struct FillBf16Args
    {
        public ulong Out;
        public ushort Value;
        public long Count;
    }

    private struct MixedArgs
    {
        public ulong Out;
        public int Rows;
        public float Scale;
        public byte Flag;
        public double Epsilon;
    }

    private struct Pair
    {
        public float A;
        public float B;
    }

    private struct NestedArgs
    {
        public byte Flag;
        public Pair Pair;
        public ulong Pointer;
    }

    private struct BoolArgs
    {
        public ulong Out;
        public bool Flag;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct PackedArgs
    {
        public int N;
        public ulong Out;
    }

    [Test]
    public void FieldsGetTheirNaturalCOffsets()
    {
        Assert.That(KernelArgumentLayout<FillBf16Args>.Offsets, Is.EqualTo(new[] { 0, 8, 16 }));
        Assert.That(KernelArgumentLayout<MixedArgs>.Offsets, Is.EqualTo(new[] { 0, 8, 12, 16, 24 }));
        Assert.That(KernelArgumentLayout<NestedArgs>.Offsets, Is.EqualTo(new[] { 0, 4, 16 }));
        Assert.That(KernelArgumentLayout<long>.Offsets, Is.EqualTo(new[] { 0 }), "a single scalar is one parameter");
    }

    [Test]
    public void OffsetsAgreeWithTheRuntimesLayout()
    {
        Assert.That(KernelArgumentLayout<MixedArgs>.Offsets,
            Is.EqualTo(new[] { "Out", "Rows", "Scale", "Flag", "Epsilon" }.Select(f => (int)Marshal.OffsetOf<MixedArgs>(f))));
    }

    [Test]
    public void RefusesFieldsWhoseCSizeDiffersAndPackedStructs()
    {
        Assert.That(() => KernelArgumentLayout<BoolArgs>.Offsets,
            Throws.InstanceOf<TypeInitializationException>().With.InnerException.Message.Contain("BoolArgs.Flag"));
        Assert.That(() => KernelArgumentLayout<PackedArgs>.Offsets,
            Throws.InstanceOf<TypeInitializationException>().With.InnerException.Message.Contain("Pack"));
    }
}
