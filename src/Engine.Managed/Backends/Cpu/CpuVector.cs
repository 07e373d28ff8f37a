using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Backends.Cpu;

/// <summary>
/// The vector primitives of the forward pass's norms and residual adds, compiled fully optimized from their first
/// call. TensorPrimitives does the same math, but its methods start unoptimized under a host's default tiered JIT and
/// run 10-20x slower for the first seconds (bench/RESULTS.md, "Embedding hosts").
/// </summary>
internal static class CpuVector
{
    /// <summary>sum of a[i] * b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = SameLength(a.Length, b.Length);
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        int w = Vector<float>.Count, i = 0;
        Vector<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (; i + 4 * w <= n; i += 4 * w)
        {
            s0 = Vector.FusedMultiplyAdd(Load(ref pa, i), Load(ref pb, i), s0);
            s1 = Vector.FusedMultiplyAdd(Load(ref pa, i + w), Load(ref pb, i + w), s1);
            s2 = Vector.FusedMultiplyAdd(Load(ref pa, i + 2 * w), Load(ref pb, i + 2 * w), s2);
            s3 = Vector.FusedMultiplyAdd(Load(ref pa, i + 3 * w), Load(ref pb, i + 3 * w), s3);
        }
        for (; i + w <= n; i += w)
            s0 = Vector.FusedMultiplyAdd(Load(ref pa, i), Load(ref pb, i), s0);
        float sum = Vector.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++)
            sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref pa, i), Unsafe.Add(ref pb, i), sum);
        return sum;
    }

    /// <summary>y[i] = x[i] * scale (y may be x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> x, float scale, Span<float> y)
    {
        int n = SameLength(x.Length, y.Length);
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        var s = new Vector<float>(scale);
        int w = Vector<float>.Count, i = 0;
        for (; i + w <= n; i += w)
            Store(Load(ref px, i) * s, ref py, i);
        for (; i < n; i++)
            Unsafe.Add(ref py, i) = Unsafe.Add(ref px, i) * scale;
    }

    /// <summary>y[i] = a[i] * b[i] (y may be a or b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        int n = SameLength(SameLength(a.Length, b.Length), y.Length);
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        ref float py = ref MemoryMarshal.GetReference(y);
        int w = Vector<float>.Count, i = 0;
        for (; i + w <= n; i += w)
            Store(Load(ref pa, i) * Load(ref pb, i), ref py, i);
        for (; i < n; i++)
            Unsafe.Add(ref py, i) = Unsafe.Add(ref pa, i) * Unsafe.Add(ref pb, i);
    }

    /// <summary>y[i] = a[i] + b[i] (y may be a or b).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        int n = SameLength(SameLength(a.Length, b.Length), y.Length);
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        ref float py = ref MemoryMarshal.GetReference(y);
        int w = Vector<float>.Count, i = 0;
        for (; i + w <= n; i += w)
            Store(Load(ref pa, i) + Load(ref pb, i), ref py, i);
        for (; i < n; i++)
            Unsafe.Add(ref py, i) = Unsafe.Add(ref pa, i) + Unsafe.Add(ref pb, i);
    }

    /// <summary>sum of x[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Sum(ReadOnlySpan<float> x)
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        int w = Vector<float>.Count, i = 0;
        Vector<float> s0 = default, s1 = default;
        for (; i + 2 * w <= x.Length; i += 2 * w)
        {
            s0 += Load(ref px, i);
            s1 += Load(ref px, i + w);
        }
        for (; i + w <= x.Length; i += w)
            s0 += Load(ref px, i);
        float sum = Vector.Sum(s0 + s1);
        for (; i < x.Length; i++)
            sum += Unsafe.Add(ref px, i);
        return sum;
    }

    /// <summary>sum of x[i]^2.</summary>
    public static float SumOfSquares(ReadOnlySpan<float> x) => Dot(x, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Load(ref float start, int index) =>
        Unsafe.ReadUnaligned<Vector<float>>(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref start, index)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector<float> value, ref float start, int index) =>
        Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref start, index)), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SameLength(int a, int b) =>
        a == b ? a : throw new ArgumentException($"span lengths differ: {a} and {b}");
}
