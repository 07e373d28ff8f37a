using CoAR.Engine.Managed.Cuda;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Cuda;

/// <summary>
/// Kernel compile tests need NVRTC, not a GPU. Where NVRTC cannot be loaded they fail when the environment says it
/// must be there (CI sets CI=true, .ci/run exports COAR_REQUIRE_NVRTC=1) and are skipped with the loader's reason
/// otherwise, so a developer without NVRTC sees why instead of a red suite.
/// </summary>
internal static class NvrtcRequirement
{
    public static void EnsureLoaded()
    {
        if (Nvrtc.TryLoad(out var reason))
            return;
        if (Required)
            Assert.Fail($"NVRTC is required here (CI or COAR_REQUIRE_NVRTC=1) but could not be loaded: {reason}");
        Assert.Ignore($"NVRTC not available (set COAR_NVRTC, or install libnvrtc): {reason}");
    }

    private static bool Required =>
        Environment.GetEnvironmentVariable("COAR_REQUIRE_NVRTC") == "1" ||
        Environment.GetEnvironmentVariable("CI") is { Length: > 0 } ci && !ci.Equals("false", StringComparison.OrdinalIgnoreCase) && ci != "0";
}
