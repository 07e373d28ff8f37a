using System.Runtime.Intrinsics;
using CoAR.Engine.Managed.Backends.Cpu;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>The softmaxes' fp32 exp against float64 Math.Exp, and its special values.</summary>
public class CpuMathTests
{
    [Test]
    public void ExpIsWithinTwoUlpsOverTheNormalRange()
    {
        var rng = new Random(1);
        double worst = 0;
        for (int i = 0; i < 20000; i++)
        {
            var x = Vector512.Create(Enumerable.Range(0, 16).Select(_ => (float)(rng.NextDouble() * 175 - 87)).ToArray());
            var y = CpuMath.Exp(x);
            for (int e = 0; e < 16; e++)
            {
                double exact = Math.Exp(x[e]);
                worst = Math.Max(worst, Math.Abs(y[e] - exact) / exact);
            }
        }
        Assert.That(worst, Is.LessThan(2.4e-7), "max relative error (2 ulp of fp32 is 2.4e-7)");
    }

    [Test]
    public void ExpOfSpecialValues()
    {
        var x = Vector512.Create([float.NegativeInfinity, -1000f, -88f, 0f, 1f, 88.7f, 89f, float.PositiveInfinity,
            float.NaN, -0f, 1e-8f, -1e-8f, 0.5f, -0.5f, 20f, -20f]);
        var y = CpuMath.Exp(x);
        Assert.That(y[0], Is.EqualTo(0f), "exp(-inf) is exactly 0 (masked scores)");
        Assert.That(y[1], Is.EqualTo(0f));
        Assert.That(y[2], Is.EqualTo(0f), "below the smallest normal");
        Assert.That(y[3], Is.EqualTo(1f));
        Assert.That(y[4], Is.EqualTo(MathF.E).Within(1).Ulps);
        Assert.That(y[5], Is.EqualTo((float)Math.Exp(88.7f)).Within(2).Ulps, "near the top of the range");
        Assert.That(y[6], Is.EqualTo(float.PositiveInfinity));
        Assert.That(y[7], Is.EqualTo(float.PositiveInfinity));
        Assert.That(float.IsNaN(y[8]), Is.True, "NaN propagates");
        Assert.That(y[9], Is.EqualTo(1f));
    }
}
