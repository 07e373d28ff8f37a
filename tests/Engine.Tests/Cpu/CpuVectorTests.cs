using CoAR.Engine.Managed.Backends.Cpu;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>The CPU backend's vector primitives against float64 sums, at lengths around every vector and unroll boundary.</summary>
public class CpuVectorTests
{
    private static readonly int[] Lengths = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 200, 4099];

    [Test]
    public void ReductionsMatchFloat64([ValueSource(nameof(Lengths))] int n)
    {
        var (a, b) = (Random(n, 1), Random(n, 2));
        double dot = 0, sum = 0, squares = 0;
        for (int i = 0; i < n; i++)
        {
            dot += (double)a[i] * b[i];
            sum += a[i];
            squares += (double)a[i] * a[i];
        }
        double scale = Math.Max(1, Math.Sqrt(n));
        Assert.That(CpuVector.Dot(a, b), Is.EqualTo(dot).Within(1e-5 * scale));
        Assert.That(CpuVector.Sum(a), Is.EqualTo(sum).Within(1e-5 * scale));
        Assert.That(CpuVector.SumOfSquares(a), Is.EqualTo(squares).Within(1e-5 * scale));
    }

    [Test]
    public void ElementwiseOpsMatchScalarOnes([ValueSource(nameof(Lengths))] int n)
    {
        var (a, b) = (Random(n, 3), Random(n, 4));
        var y = new float[n];
        CpuVector.Add(a, b, y);
        for (int i = 0; i < n; i++) Assert.That(y[i], Is.EqualTo(a[i] + b[i]));
        CpuVector.Multiply(a, b, y);
        for (int i = 0; i < n; i++) Assert.That(y[i], Is.EqualTo(a[i] * b[i]));
        CpuVector.Multiply(a, 0.37f, y);
        for (int i = 0; i < n; i++) Assert.That(y[i], Is.EqualTo(a[i] * 0.37f));
        // In place, as the norms use it.
        var x = (float[])a.Clone();
        CpuVector.Multiply(x, 2f, x);
        for (int i = 0; i < n; i++) Assert.That(x[i], Is.EqualTo(a[i] * 2f));
    }

    [Test]
    public void MismatchedLengthsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => CpuVector.Dot(new float[4], new float[5]));
        Assert.Throws<ArgumentException>(() => CpuVector.Add(new float[4], new float[4], new float[3]));
    }

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }
}
