using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// Vector math for the softmaxes (losses over 65536 logits, attention weights), where exp is most of the work.
/// Vector512.Exp is accurate but goes through fp64 (about 70 cycles per 16 floats here); this one stays in fp32:
/// exp(x) = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 in two FMA steps (Cody-Waite), and Cephes' degree-6
/// polynomial for e^r (relative error about 1e-7, like MathF.Exp). Vector512 runs as two halves where the CPU has
/// no AVX-512.
/// </summary>
internal static class CpuMath
{
    /// <summary>Below this e^x is under the smallest normal float: the result is 0 (so exp(-inf) = 0 exactly).</summary>
    private const float MinArgument = -87.33654f;

    /// <summary>Above this e^x overflows: +inf.</summary>
    private const float MaxArgument = 88.72283f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.Min(Vector512.Max(x, Vector512.Create(MinArgument)), Vector512.Create(MaxArgument));
        var n = Vector512.Round(clamped * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), clamped);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var y = Vector512.Create(1.9875691500E-4f);
        y = Vector512.FusedMultiplyAdd(y, r, Vector512.Create(1.3981999507E-3f));
        y = Vector512.FusedMultiplyAdd(y, r, Vector512.Create(8.3334519073E-3f));
        y = Vector512.FusedMultiplyAdd(y, r, Vector512.Create(4.1665795894E-2f));
        y = Vector512.FusedMultiplyAdd(y, r, Vector512.Create(1.6666665459E-1f));
        y = Vector512.FusedMultiplyAdd(y, r, Vector512.Create(5.0000001201E-1f));
        y = Vector512.FusedMultiplyAdd(y, r * r, r + Vector512<float>.One);
        // 2^n as two factors 2^(n/2), so n = 128 (x near MaxArgument) does not overflow the exponent field.
        var ni = Vector512.ConvertToInt32(n);
        var half = Vector512.ShiftRightArithmetic(ni, 1);
        var bias = Vector512.Create(127);
        var result = y * Vector512.ShiftLeft(half + bias, 23).AsSingle() * Vector512.ShiftLeft(ni - half + bias, 23).AsSingle();
        result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(MinArgument)), Vector512<float>.Zero, result);
        result = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(MaxArgument)), Vector512.Create(float.PositiveInfinity), result);
        // NaN in, NaN out (the comparisons above are false for NaN, and clamping would have hidden it).
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }
}
