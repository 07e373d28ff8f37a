using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cpu;

/// <summary>
/// Finite-difference check of an analytic gradient, in float64. The loss is any scalar function of a flat input
/// vector: an op run on the CPU backend and projected on a fixed random vector (L = sum(r * f(x)), whose gradient is
/// the op's backward with dy = r), or a whole model's training loss w.r.t. a context token. Each checked element i gets
/// the central difference (L(x + h e_i) - L(x - h e_i)) / 2h with a step sized for a loss evaluated in fp32.
/// </summary>
internal static class GradCheck
{
    public sealed record Options
    {
        /// <summary>
        /// h_i = RelativeStep * max(|x_i|, rms(x)), rounded down to a power of two so that x_i +- h_i are exact in fp32.
        /// 1e-2 balances truncation error (~h^2) against fp32 rounding of the loss (~1e-7 |L| / h).
        /// </summary>
        public double RelativeStep { get; init; } = 1e-2;

        /// <summary>Allowed |analytic - numeric| as a fraction of |numeric|.</summary>
        public double RelativeTolerance { get; init; } = 1e-2;

        /// <summary>
        /// Plus this fraction of the largest gradient magnitude among the checked elements: the floor that covers the
        /// rounding noise of elements whose gradient is near zero.
        /// </summary>
        public double ScaleTolerance { get; init; } = 1e-3;

        /// <summary>Checks at most this many elements: a seeded random subset when the input is longer (whole-model checks).</summary>
        public int MaxElements { get; init; } = int.MaxValue;

        public int Seed { get; init; } = 1;
    }

    /// <summary>The outcome: the element with the largest error relative to its tolerance, and the gradient scale.</summary>
    public sealed record Result(string What, int Checked, int WorstIndex, double WorstAnalytic, double WorstNumeric,
        double WorstTolerance, double GradientScale)
    {
        public double WorstError => Math.Abs(WorstAnalytic - WorstNumeric);

        public bool Passed => double.IsFinite(WorstAnalytic) && WorstError <= WorstTolerance;

        public override string ToString() =>
            $"{What}: element {WorstIndex} has analytic gradient {WorstAnalytic:G6}, finite difference {WorstNumeric:G6} " +
            $"(error {WorstError:E2}, tolerance {WorstTolerance:E2}; {Checked} elements checked, largest |gradient| {GradientScale:G4})";
    }

    /// <summary>A fixed random projection vector, uniform in [-1, 1].</summary>
    public static double[] Projection(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
    }

    /// <summary>sum(r * y) in float64.</summary>
    public static double Project(double[] r, ReadOnlySpan<float> y)
    {
        if (r.Length != y.Length) throw new ArgumentException($"projection of length {r.Length} does not match {y.Length} outputs");
        double sum = 0;
        for (int i = 0; i < r.Length; i++) sum += r[i] * y[i];
        return sum;
    }

    /// <summary>A new F32 tensor holding float64 values rounded to fp32.</summary>
    public static Tensor NewTensor(IBackend backend, double[] values, params int[] shape)
    {
        var t = backend.Allocate(DType.F32, shape);
        Load(backend, t, values);
        return t;
    }

    /// <summary>Uploads float64 values into an F32 tensor (rounded to fp32).</summary>
    public static void Load(IBackend backend, Tensor t, double[] values) =>
        backend.Upload<float>(values.Select(v => (float)v).ToArray(), t);

    /// <summary>An F32 tensor's contents widened to float64.</summary>
    public static double[] ReadDouble(IBackend backend, Tensor t)
    {
        var a = new float[t.ElementCount];
        backend.Download<float>(t, a);
        return a.Select(v => (double)v).ToArray();
    }

    /// <summary>
    /// Compares <paramref name="analytic"/> with central differences of <paramref name="loss"/> at <paramref name="x"/>.
    /// The loss gets <paramref name="x"/> itself with one element perturbed (restored afterwards): it must neither keep
    /// nor modify the array.
    /// </summary>
    public static Result Compare(string what, double[] x, Func<double[], double> loss, double[] analytic, Options? options = null)
    {
        var o = options ?? new Options();
        if (analytic.Length != x.Length)
            throw new ArgumentException($"{what}: analytic gradient has {analytic.Length} elements, the input {x.Length}");
        var elements = Elements(x.Length, o);
        var numeric = new double[elements.Length];
        double rms = Math.Sqrt(x.Sum(v => v * v) / Math.Max(1, x.Length));
        for (int e = 0; e < elements.Length; e++)
        {
            int i = elements[e];
            double x0 = x[i];
            double h = PowerOfTwoBelow(o.RelativeStep * Math.Max(Math.Abs(x0), rms > 0 ? rms : 1));
            x[i] = x0 + h;
            double plus = loss(x);
            x[i] = x0 - h;
            double minus = loss(x);
            x[i] = x0;
            numeric[e] = (plus - minus) / (2 * h);
        }
        double scale = 0;
        for (int e = 0; e < elements.Length; e++)
            scale = Math.Max(scale, Math.Max(Math.Abs(numeric[e]), Math.Abs(analytic[elements[e]])));
        var worst = new Result(what, elements.Length, -1, 0, 0, 0, scale);
        double worstRatio = -1;
        for (int e = 0; e < elements.Length; e++)
        {
            int i = elements[e];
            double tolerance = o.RelativeTolerance * Math.Abs(numeric[e]) + o.ScaleTolerance * scale;
            double error = Math.Abs(analytic[i] - numeric[e]);
            double ratio = double.IsFinite(analytic[i]) ? error / Math.Max(tolerance, double.Epsilon) : double.PositiveInfinity;
            if (ratio > worstRatio)
            {
                worstRatio = ratio;
                worst = worst with { WorstIndex = i, WorstAnalytic = analytic[i], WorstNumeric = numeric[e], WorstTolerance = tolerance };
            }
        }
        return worst;
    }

    /// <summary><see cref="Compare"/>, failing the test with the worst element when it is out of tolerance.</summary>
    public static Result AssertMatches(string what, double[] x, Func<double[], double> loss, double[] analytic, Options? options = null)
    {
        var result = Compare(what, x, loss, analytic, options);
        if (!result.Passed) Assert.Fail(result.ToString());
        return result;
    }

    private static int[] Elements(int count, Options o)
    {
        var all = Enumerable.Range(0, count).ToArray();
        if (o.MaxElements >= count) return all;
        new Random(o.Seed).Shuffle(all);
        return all[..o.MaxElements].Order().ToArray();
    }

    private static double PowerOfTwoBelow(double h) => Math.Pow(2, Math.Floor(Math.Log2(h)));
}
