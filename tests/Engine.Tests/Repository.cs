namespace CoAR.Engine.Tests;

/// <summary>The repository the tests run from: scripts and sources under it (kernels/, tools/) that tests use.</summary>
internal static class Repository
{
    private static readonly Lazy<string> RootDirectory = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CoAR.Engine.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException("the repository root (CoAR.Engine.sln) is not above the test binaries");
    });

    /// <summary>The directory holding CoAR.Engine.sln.</summary>
    public static string Root => RootDirectory.Value;
}
