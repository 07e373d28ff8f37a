using NUnit.Framework;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>The finite-difference checker itself: it accepts a right gradient, and finds a wrong element.</summary>
public class GradCheckTests
{
    /// <summary>L(x) = sum_i sin(x_i) x_{i+1}, evaluated in fp32 like an op would be.</summary>
    private static double Loss(double[] x)
    {
        float sum = 0;
        for (int i = 0; i + 1 < x.Length; i++) sum += MathF.Sin((float)x[i]) * (float)x[i + 1];
        return sum;
    }

    private static double[] Gradient(double[] x)
    {
        var g = new double[x.Length];
        for (int i = 0; i + 1 < x.Length; i++)
        {
            g[i] += Math.Cos(x[i]) * x[i + 1];
            g[i + 1] += Math.Sin(x[i]);
        }
        return g;
    }

    private static double[] Input(int n) => TestData.D(TestData.Random(new Random(n), n, 2f));

    [Test]
    public void RightGradientPasses()
    {
        var x = Input(40);
        var result = GradCheck.AssertMatches("sin", x, Loss, Gradient(x));
        Assert.That(result.Checked, Is.EqualTo(40));
        Assert.That(x, Is.EqualTo(Input(40)), "the input is restored");
    }

    [Test]
    public void OneWrongElementIsFound()
    {
        var x = Input(40);
        var g = Gradient(x);
        g[17] += 0.05 * g.Max(Math.Abs);
        var result = GradCheck.Compare("sin", x, Loss, g);
        Assert.That(result.Passed, Is.False);
        Assert.That(result.WorstIndex, Is.EqualTo(17));
        Assert.That(result.ToString(), Does.Contain("element 17"));
    }

    [Test]
    public void MaxElementsChecksASeededSubset()
    {
        var x = Input(300);
        var g = Gradient(x);
        var options = new GradCheck.Options { MaxElements = 25, Seed = 9 };
        var result = GradCheck.Compare("sin", x, Loss, g, options);
        Assert.That(result.Checked, Is.EqualTo(25));
        Assert.That(result.Passed, Is.True, result.ToString());
        var wrong = (double[])g.Clone();
        wrong[result.WorstIndex] += 1;
        Assert.That(GradCheck.Compare("sin", x, Loss, wrong, options).Passed, Is.False, "the same seed checks the same elements");
    }
}
