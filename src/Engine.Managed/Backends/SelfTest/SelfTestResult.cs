namespace CoAR.Engine.Managed.Backends.SelfTest;

/// <summary>One check of a device self-test: a kernel file compiled and loaded, or a conformance case.</summary>
public sealed record SelfTestCheck(string Name, bool Passed, string Detail)
{
    public override string ToString() => $"{(Passed ? "ok  " : "FAIL")} {Name}: {Detail}";
}

/// <summary>A device self-test's outcome: passed when every check passed.</summary>
public sealed record SelfTestResult(DeviceIdentity Identity, DateTimeOffset RanAt, double Seconds, IReadOnlyList<SelfTestCheck> Checks)
{
    public bool Passed => Checks.Count > 0 && Checks.All(c => c.Passed);

    public IReadOnlyList<SelfTestCheck> Failures => Checks.Where(c => !c.Passed).ToList();

    /// <summary>"passed 12 checks in 3.1 s", or how many failed and the first failures.</summary>
    public string Summary
    {
        get
        {
            if (Passed) return $"passed {Checks.Count} checks in {Seconds:0.0} s";
            if (Checks.Count == 0) return "ran no checks";
            var failures = Failures;
            string first = string.Join("; ", failures.Take(2).Select(f => $"{f.Name}: {FirstLine(f.Detail)}"));
            return $"{failures.Count} of {Checks.Count} checks failed ({first}{(failures.Count > 2 ? "; ..." : "")})";
        }
    }

    private static string FirstLine(string text)
    {
        string line = text.Split('\n')[0].Trim();
        return line.Length <= 160 ? line : line[..157] + "...";
    }
}
