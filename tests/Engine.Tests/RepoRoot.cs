namespace CoAR.Engine.Tests;

/// <summary>The repository checkout the tests run from (found upwards from the test assembly by CoAR.Engine.sln).</summary>
internal static class RepoRoot
{
    private static readonly Lazy<string> Found = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "CoAR.Engine.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"no CoAR.Engine.sln above {AppContext.BaseDirectory}");
    });

    public static string Path => Found.Value;
}
