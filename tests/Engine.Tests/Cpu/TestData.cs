using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>Random inputs and tensor plumbing for op tests.</summary>
internal static class TestData
{
    /// <summary>Uniform in [-scale, scale], never exactly zero so a dropped term always shows.</summary>
    public static float[] Random(Random rng, int count, float scale = 1f)
    {
        var a = new float[count];
        for (int i = 0; i < count; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1) * scale;
            a[i] = v == 0 ? scale * 0.5f : v;
        }
        return a;
    }

    /// <summary>Random values already rounded to bf16, so a BF16 tensor and its float64 copy hold the same numbers.</summary>
    public static float[] RandomBf16(Random rng, int count, float scale = 1f) =>
        Random(rng, count, scale).Select(BFloat16.Round).ToArray();

    public static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    public static Tensor F32(IBackend b, float[] data, params int[] shape)
    {
        var t = b.Allocate(DType.F32, shape);
        b.Upload<float>(data, t);
        return t;
    }

    public static Tensor Bf16(IBackend b, float[] data, params int[] shape)
    {
        var bits = new ushort[data.Length];
        BFloat16.FromSingle(data, bits);
        var t = b.Allocate(DType.BF16, shape);
        b.Upload<ushort>(bits, t);
        return t;
    }

    public static Tensor I32(IBackend b, int[] data)
    {
        var t = b.Allocate(DType.I32, [data.Length]);
        b.Upload<int>(data, t);
        return t;
    }

    public static float[] Read(IBackend b, Tensor t)
    {
        var a = new float[t.ElementCount];
        b.Download<float>(t, a);
        return a;
    }

    /// <summary>Asserts |actual - expected| &lt;= tol * (1 + |expected|) elementwise and no NaN/Inf.</summary>
    public static void AssertClose(float[] actual, double[] expected, double tol, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what + ": length");
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.That(float.IsFinite(actual[i]), Is.True, $"{what}[{i}] is {actual[i]}");
            double err = Math.Abs(actual[i] - expected[i]);
            if (err > tol * (1 + Math.Abs(expected[i])))
                Assert.Fail($"{what}[{i}] = {actual[i]}, expected {expected[i]} (error {err:E2} > tolerance {tol:E1})");
        }
    }
}
