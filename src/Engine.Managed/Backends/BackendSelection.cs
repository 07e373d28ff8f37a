using CoAR.Engine.Managed.Backends.SelfTest;

namespace CoAR.Engine.Managed.Backends;

/// <summary>
/// The backend <see cref="BackendFactory.Open(string)"/> chose for a device name, and what the user should hear about
/// the choice: why `auto` fell back to the CPU, and the GPU's self-test (a failure on an explicitly chosen GPU is a
/// warning; a self-test that ran just now is worth a note, since it made this start slower).
/// </summary>
/// <param name="Backend">The backend; the caller owns it.</param>
/// <param name="FallbackReason">Why "auto" ended on the CPU, or null.</param>
/// <param name="SelfTest">The self-test result of the GPU that was opened (kept or run now), or null.</param>
/// <param name="SelfTestRanNow">True when the self-test ran during this call (the device's first use with this identity).</param>
/// <param name="SelfTestKeepError">Why the result of a self-test that ran now could not be kept, or null.</param>
public sealed record BackendSelection(IBackend Backend, string? FallbackReason = null, SelfTestResult? SelfTest = null,
    bool SelfTestRanNow = false, string? SelfTestKeepError = null)
{
    /// <summary>Where to read a self-test's details and how to run it again.</summary>
    public const string SelfTestHelp = "`coar info` shows the details, `coar info --self-test` runs it again";

    /// <summary>A warning when the backend is a GPU that failed its self-test (it was asked for by name), or null.</summary>
    public string? Warning => SelfTest is { Passed: false } failed && FallbackReason is null
        ? $"{Backend.Name} failed its self-test on this machine ({failed.Summary}): its results may be wrong; {SelfTestHelp}"
        : null;
}
