namespace CoAR.Engine.Tests;

/// <summary>Where the checkout is, for tests that run its scripts, build its projects or read its README.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CoAR.Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("the repository root (CoAR.Engine.sln) is not above the test binaries");
    }
}
