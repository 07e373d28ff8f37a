using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using NUnit.Framework;

namespace CoAR.Engine.Tests.Embedding;

/// <summary>
/// The NuGet packages as a consumer gets them: what each carries, a .NET host outside the solution restoring them from
/// a folder feed and generating an image with the README's snippet, and `coar` installed as a .NET tool from the same
/// feed by the README's commands.
/// </summary>
public class PackageTests
{
    private static readonly string[] Libraries = ["CoAR.Engine.Managed", "CoAR.Engine.Graph", "CoAR.Engine.Tools"];

    [Test]
    public void EveryLibraryPackageCarriesDocsSymbolsReadmeAndLicence()
    {
        foreach (var id in Libraries)
        {
            var files = Entries(id, "nupkg");
            Assert.That(files, Does.Contain($"lib/net10.0/{id}.dll").And.Contain($"lib/net10.0/{id}.xml").And.Contain("LICENSE").And.Contain("README.md"), id);
            Assert.That(Entries(id, "snupkg"), Does.Contain($"lib/net10.0/{id}.pdb"), $"{id}: symbols");
        }
        var meta = Nuspec("CoAR.Engine");
        var dependencies = meta.Descendants().Where(e => e.Name.LocalName == "dependency").ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);
        Assert.That(dependencies.Keys, Is.EquivalentTo(Libraries));
        Assert.That(dependencies.Values, Is.All.EqualTo(EmbeddingArtifacts.PackageVersion), "one version for all");
        Assert.That(Entries("CoAR.Engine", "nupkg"), Does.Contain("LICENSE").And.Contain("README.md"));
    }

    [Test]
    public void TheRuntimePackageEmbedsEveryKernel()
    {
        using var zip = ZipFile.OpenRead(Package("CoAR.Engine.Managed", "nupkg"));
        using var dll = new MemoryStream();
        using (var s = zip.GetEntry("lib/net10.0/CoAR.Engine.Managed.dll")!.Open()) s.CopyTo(dll);
        dll.Position = 0;
        using var pe = new PEReader(dll);
        var metadata = pe.GetMetadataReader();
        var resources = metadata.ManifestResources.Select(h => metadata.GetString(metadata.GetManifestResource(h).Name)).ToHashSet();
        var kernels = Directory.GetFiles(Path.Combine(RepoRoot.Path, "kernels"), "*.cu*").Select(f => $"kernels/{Path.GetFileName(f)}").ToList();
        Assert.That(kernels, Is.Not.Empty);
        Assert.That(resources, Is.SupersetOf(kernels));
    }

    [Test]
    public void TheToolPackageIsTheCoarCommandWithTieredCompilationOff()
    {
        var files = Entries("CoAR.Engine.Cli", "nupkg");
        Assert.That(files, Does.Contain("tools/net10.0/any/DotnetToolSettings.xml").And.Contain("tools/net10.0/any/coar.dll"));
        using var zip = ZipFile.OpenRead(Package("CoAR.Engine.Cli", "nupkg"));
        using var reader = new StreamReader(zip.GetEntry("tools/net10.0/any/DotnetToolSettings.xml")!.Open());
        Assert.That(reader.ReadToEnd(), Does.Contain("Name=\"coar\""));
        using var config = new StreamReader(zip.GetEntry("tools/net10.0/any/coar.runtimeconfig.json")!.Open());
        Assert.That(config.ReadToEnd(), Does.Contain("\"System.Runtime.TieredCompilation\": false"));
    }

    [Test]
    public void ADotnetHostRestoresThePackagesAndGeneratesWithTheReadmeSnippet()
    {
        string feed = EmbeddingArtifacts.PackageFeed;
        var (home, environment) = EmbeddingArtifacts.Sandbox("dotnet-host");
        try
        {
            string project = Path.Combine(home, "host");
            Directory.CreateDirectory(project);
            File.Copy(Path.Combine(RepoRoot.Path, "tests", "Embedding", "dotnet", "Consumer.csproj"), Path.Combine(project, "Consumer.csproj"));
            File.WriteAllText(Path.Combine(project, "Program.cs"), EmbeddingArtifacts.ReadmeSnippet("dotnet"));
            File.WriteAllText(Path.Combine(project, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="coar" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            var run = ExternalProcess.Run("dotnet", ["run", "-c", "Release", $"-p:CoarVersion={EmbeddingArtifacts.PackageVersion}"], project, environment)
                .Succeeded("the .NET host (dotnet run)");
            Assert.That(run.Output, Does.Contain("256x256 RGB"), run.Output);
            Assert.That(Directory.GetDirectories(Path.Combine(home, ".nuget", "packages")).Select(Path.GetFileName),
                Does.Contain("coar.engine.graph"), "restored from the feed into the host's own NuGet cache");
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Test]
    public void CoarInstallsAsADotnetToolWithTheReadmeCommands()
    {
        _ = EmbeddingArtifacts.PackageFeed;
        var (home, environment) = EmbeddingArtifacts.Sandbox("dotnet-tool");
        try
        {
            string work = Path.Combine(home, "work");
            Directory.CreateDirectory(work);
            environment["PATH"] = $"{Path.Combine(home, ".dotnet", "tools")}:{Environment.GetEnvironmentVariable("PATH")}";
            var run = EmbeddingArtifacts.RunShellSnippet("dotnet-tool", EmbeddingArtifacts.PackCommand, work, environment)
                .Succeeded("the README's dotnet tool commands");
            Assert.That(Directory.GetFiles(Path.Combine(work, "apples"), "*.png"), Has.Length.EqualTo(1), run.Output);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    private static string Package(string id, string extension) =>
        Path.Combine(EmbeddingArtifacts.PackageFeed, $"{id}.{EmbeddingArtifacts.PackageVersion}.{extension}");

    private static List<string> Entries(string id, string extension)
    {
        using var zip = ZipFile.OpenRead(Package(id, extension));
        return zip.Entries.Select(e => e.FullName).ToList();
    }

    private static XDocument Nuspec(string id)
    {
        using var zip = ZipFile.OpenRead(Package(id, "nupkg"));
        using var s = zip.GetEntry($"{id}.nuspec")!.Open();
        return XDocument.Load(s);
    }
}
