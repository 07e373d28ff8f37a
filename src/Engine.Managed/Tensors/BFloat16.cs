using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CoAR.Engine.Managed.Tensors;

/// <summary>bfloat16 as raw bits (the top half of an IEEE float32) and its conversions.</summary>
public static class BFloat16
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Round to nearest even, as PyTorch does; NaN stays a (quiet) NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromSingle(float value)
    {
        uint u = BitConverter.SingleToUInt32Bits(value);
        if ((u & 0x7FFF_FFFFu) > 0x7F80_0000u)
            return (ushort)((u >> 16) | 0x0040u);
        uint rounding = 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)((u + rounding) >> 16);
    }

    /// <summary>Rounds a float to the nearest bfloat16 value and back (what storing in bf16 does to it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Round(float value) => ToSingle(FromSingle(value));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the CPU GEMM's weight widening: full speed in tiered hosts too
    public static void ToSingle(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"destination holds {destination.Length} floats, source has {source.Length}");
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref ushort src = ref MemoryMarshal.GetReference(source);
            ref uint dst = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(destination));
            for (; i + 16 <= source.Length; i += 16)
            {
                var packed = Vector256.LoadUnsafe(ref src, (nuint)i);
                var (lo, hi) = Vector256.Widen(packed);
                Vector256.ShiftLeft(lo, 16).StoreUnsafe(ref dst, (nuint)i);
                Vector256.ShiftLeft(hi, 16).StoreUnsafe(ref dst, (nuint)(i + 8));
            }
        }
        for (; i < source.Length; i++)
            destination[i] = ToSingle(source[i]);
    }

    public static void FromSingle(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"destination holds {destination.Length} values, source has {source.Length}");
        for (int i = 0; i < source.Length; i++)
            destination[i] = FromSingle(source[i]);
    }
}
