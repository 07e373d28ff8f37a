using CoAR.Engine.Managed.Backends;
using CoAR.Engine.Managed.Tensors;

namespace CoAR.Engine.Managed.Conformance;

/// <summary>
/// Runs op cases on a target backend and on the reference (CPU) backend and judges the target's outputs. It lives in
/// the engine, with the case context and <see cref="CoreCases"/>, because the device self-test runs it before
/// `--device auto` uses a GPU; the conformance suite (tests/Engine.Conformance), NUnit and gpu-check use this same
/// runner, so a GPU is judged one way everywhere.
/// </summary>
public static class ConformanceRunner
{
    public const int Seed = 1234;

    public static CaseResult Run(OpCase c, IBackend target, IBackend reference)
    {
        bool round = target.ActivationType == DType.BF16 || reference.ActivationType == DType.BF16;
        List<(string Name, float[] Values, IReadOnlyList<long> BrokenGuards)> expected, actual;
        try
        {
            using (var r = new CaseContext(reference, round))
            {
                c.Run(r, new Random(Seed));
                expected = r.Results().ToList();
            }
            using var t = new CaseContext(target, round);
            c.Run(t, new Random(Seed));
            actual = t.Results().ToList();
        }
        catch (Exception e)
        {
            return new CaseResult(c.Name, false, double.NaN, $"threw {e.GetType().Name}: {e.Message}");
        }

        double worst = 0;
        var details = new List<string>();
        bool passed = true;
        for (int o = 0; o < expected.Count; o++)
        {
            var (name, want, _) = expected[o];
            var (_, got, broken) = actual[o];
            if (broken.Count > 0)
            {
                passed = false;
                details.Add($"{name}: wrote outside its bounds at {broken.Count} guard element(s), e.g. offset {broken[0]}");
            }
            int bad = got.Count(v => !float.IsFinite(v));
            int badExpected = want.Count(v => !float.IsFinite(v));
            if (bad > badExpected || (bad > 0 && c.Comparison == Comparison.Nmse && !SameNonFinite(want, got)))
            {
                passed = false;
                int first = Array.FindIndex(got, v => !float.IsFinite(v));
                details.Add($"{name}: {bad} NaN/Inf value(s) (first at {first}: {got[first]})");
                continue;
            }
            if (c.Comparison == Comparison.Nmse)
            {
                double e = Nmse(want, got);
                worst = Math.Max(worst, e);
                if (!(e <= c.Threshold))
                {
                    passed = false;
                    details.Add($"{name}: NMSE {e:E2} > {c.Threshold:E1}");
                }
                else details.Add($"{name}: NMSE {e:E2}");
            }
            else
            {
                int same = 0;
                for (int i = 0; i < want.Length; i++) if (want[i] == got[i]) same++;
                double fraction = want.Length == 0 ? 1 : (double)same / want.Length;
                worst = Math.Max(worst, 1 - fraction);
                if (fraction < c.Threshold)
                {
                    passed = false;
                    details.Add($"{name}: {same}/{want.Length} equal < {c.Threshold:P0}");
                }
                else details.Add($"{name}: {same}/{want.Length} equal");
            }
        }
        return new CaseResult(c.Name, passed, worst, string.Join("; ", details));
    }

    /// <summary>-inf where the reference has -inf (masked logits) is right, not a failure.</summary>
    private static bool SameNonFinite(float[] want, float[] got)
    {
        for (int i = 0; i < want.Length; i++)
            if (!float.IsFinite(got[i]) && !(float.IsNegativeInfinity(got[i]) && float.IsNegativeInfinity(want[i])))
                return false;
        return true;
    }

    public static double Nmse(float[] expected, float[] actual)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (float.IsNegativeInfinity(expected[i]) && float.IsNegativeInfinity(actual[i])) continue;
            double d = (double)actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return den == 0 ? num : num / den;
    }
}
