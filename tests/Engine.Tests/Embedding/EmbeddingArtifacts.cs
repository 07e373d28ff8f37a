using System.Reflection;
using System.Text.RegularExpressions;
using CoAR.Engine.Graph;
using CoAR.Engine.Tools;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Embedding;

/// <summary>
/// What the embedding tests consume, made once per test run with the README's own commands: the NuGet packages
/// (`dotnet pack`, after the suite's solution build) and libcoar.so (`dotnet publish src/Engine.Native`, NativeAOT).
/// A failure is kept and reported by every test that needs the artifact.
/// </summary>
internal static class EmbeddingArtifacts
{
    public const string PackCommand = "dotnet pack CoAR.Engine.sln -c Release -o artifacts/packages";
    public const string PublishCommand = "dotnet publish src/Engine.Native -c Release -o artifacts/native";

    private static readonly Lazy<string> Feed = new(() =>
    {
        string feed = Path.Combine(RepoRoot.Path, "artifacts", "packages");
        if (Directory.Exists(feed)) Directory.Delete(feed, recursive: true);
        // The README's command, without the build the suite has just done.
        DotnetCommand(PackCommand, "--no-build").Succeeded(PackCommand);
        return feed;
    });

    private static readonly Lazy<string> Native = new(() =>
    {
        DotnetCommand(PublishCommand, "--no-build").Succeeded(PublishCommand);
        string library = Path.Combine(RepoRoot.Path, "artifacts", "native", "libcoar.so");
        if (!File.Exists(library)) throw new FileNotFoundException($"{PublishCommand} made no {library}", library);
        return library;
    });

    /// <summary>The folder feed with the CoAR.Engine* packages (.nupkg and .snupkg).</summary>
    public static string PackageFeed => Feed.Value;

    /// <summary>The NativeAOT libcoar.so.</summary>
    public static string NativeLibrary => Native.Value;

    public static string NativeHeaderDirectory => Path.Combine(RepoRoot.Path, "src", "Engine.Native", "include");

    /// <summary>The version every package and libcoar carry (Directory.Build.props).</summary>
    public static string PackageVersion { get; } =
        typeof(CoarEngine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    /// <summary>
    /// A HOME of its own for a host under test: an empty NuGet cache, a NuGet.Config whose only sources are the
    /// packages packed here and the suite's restored NuGet cache (so nothing reaches the network), and COAR_HOME
    /// pointing at the built-in model the suite already has.
    /// </summary>
    public static (string Home, Dictionary<string, string> Environment) Sandbox(string name)
    {
        string home = Directory.CreateTempSubdirectory($"coar-{name}-").FullName;
        string nugetConfig = Path.Combine(home, ".nuget", "NuGet", "NuGet.Config");
        Directory.CreateDirectory(Path.GetDirectoryName(nugetConfig)!);
        File.WriteAllText(nugetConfig, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="restored" value="{RestoredPackages}" />
              </packageSources>
            </configuration>
            """);
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["DOTNET_CLI_HOME"] = home,
            ["NUGET_PACKAGES"] = Path.Combine(home, ".nuget", "packages"),
            ["COAR_HOME"] = Path.GetDirectoryName(BuiltInModel.EnsureCreated())!,
        };
        return (home, environment);
    }

    /// <summary>The fenced code block that follows `&lt;!-- snippet: NAME --&gt;` in README.md.</summary>
    public static string ReadmeSnippet(string name)
    {
        string readme = File.ReadAllText(Path.Combine(RepoRoot.Path, "README.md"));
        var match = Regex.Match(readme, $@"<!-- snippet: {Regex.Escape(name)} -->\s*```[a-z]*\n(?<code>.*?)```", RegexOptions.Singleline);
        if (!match.Success) throw new InvalidDataException($"README.md has no code block after <!-- snippet: {name} -->");
        return match.Groups["code"].Value;
    }

    /// <summary>
    /// Runs a README shell snippet whose first line is the build command the tests ran (checked to be exactly that),
    /// the rest as written, in <paramref name="work"/> seen as a checkout: src, bindings and artifacts link to this one.
    /// </summary>
    public static ExternalProcess.Result RunShellSnippet(string name, string buildCommand, string work, Dictionary<string, string> environment)
    {
        var lines = ReadmeSnippet(name).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0].Trim(), Is.EqualTo(buildCommand), $"README snippet '{name}' builds as the tests do");
        foreach (var dir in new[] { "src", "bindings", "artifacts" })
            Directory.CreateSymbolicLink(Path.Combine(work, dir), Path.Combine(RepoRoot.Path, dir));
        return ExternalProcess.Run("bash", ["-euo", "pipefail", "-c", string.Join('\n', lines.Skip(1))], work, environment);
    }

    /// <summary>Where `dotnet restore` put the solution's packages (the suite's own NuGet cache).</summary>
    private static string RestoredPackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static ExternalProcess.Result DotnetCommand(string command, params string[] extra)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return ExternalProcess.Run(words[0], [.. words.Skip(1), .. extra, "-v", "quiet", "-nologo"], RepoRoot.Path,
            timeout: TimeSpan.FromMinutes(8));
    }
}
