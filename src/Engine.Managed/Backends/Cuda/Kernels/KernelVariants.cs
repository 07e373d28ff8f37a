using System.Collections;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Backends.Cuda.Kernels;

/// <summary>A kernel compiled for BF16 and for F32 data: "{stem}_bf16" and "{stem}_f32".</summary>
internal sealed class ByDType<TArgs> : IEnumerable<KernelDescriptor> where TArgs : unmanaged
{
    public ByDType(string file, string stem)
    {
        Bf16 = new(file, stem + "_bf16");
        F32 = new(file, stem + "_f32");
    }

    public KernelDescriptor<TArgs> Bf16 { get; }
    public KernelDescriptor<TArgs> F32 { get; }

    /// <summary>The variant for BF16 data, F32 for anything else (the launchers have checked the dtype).</summary>
    public KernelDescriptor<TArgs> For(DType dtype) => dtype == DType.BF16 ? Bf16 : F32;

    public IEnumerator<KernelDescriptor> GetEnumerator() => ((IEnumerable<KernelDescriptor>)[Bf16, F32]).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A kernel compiled for each pair of BF16/F32 source and destination: "{stem}_{source}_{destination}".</summary>
internal sealed class ByDTypePair<TArgs> : IEnumerable<KernelDescriptor> where TArgs : unmanaged
{
    private readonly KernelDescriptor<TArgs>[] _variants;

    public ByDTypePair(string file, string stem) =>
        _variants = [new(file, $"{stem}_bf16_bf16"), new(file, $"{stem}_bf16_f32"), new(file, $"{stem}_f32_bf16"), new(file, $"{stem}_f32_f32")];

    /// <summary>The variant for the two dtypes, each BF16 or else F32 (the launchers have checked them).</summary>
    public KernelDescriptor<TArgs> For(DType source, DType destination) =>
        _variants[(source == DType.BF16 ? 0 : 2) + (destination == DType.BF16 ? 0 : 1)];

    public IEnumerator<KernelDescriptor> GetEnumerator() => ((IEnumerable<KernelDescriptor>)_variants).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// An attention kernel (BF16) for head dims up to 64 or 128 and with 16-byte or element loads:
/// "{stem}_{64|128}[_unaligned]_bf16".
/// </summary>
internal sealed class AttentionVariants<TArgs> : IEnumerable<KernelDescriptor> where TArgs : unmanaged
{
    private readonly KernelDescriptor<TArgs>[] _variants;

    public AttentionVariants(string file, string stem) =>
        _variants = [new(file, $"{stem}_128_bf16"), new(file, $"{stem}_128_unaligned_bf16"), new(file, $"{stem}_64_bf16"),
            new(file, $"{stem}_64_unaligned_bf16")];

    /// <summary>The variant whose tiles hold <paramref name="maxHeadDim"/> (64 or 128) dims, with vector loads or not.</summary>
    public KernelDescriptor<TArgs> For(int maxHeadDim, bool vectorLoads) => _variants[(maxHeadDim == 64 ? 2 : 0) + (vectorLoads ? 0 : 1)];

    public IEnumerator<KernelDescriptor> GetEnumerator() => ((IEnumerable<KernelDescriptor>)_variants).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
