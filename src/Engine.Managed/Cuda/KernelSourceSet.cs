using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace CoAR.Engine.Managed.Cuda;

/// <summary>
/// The CUDA sources NVRTC compiles: kernel files (*.cu, one module each) and the headers they include by name (*.cuh).
/// The engine's own set is embedded in this assembly from kernels/; tests build variants from strings.
/// </summary>
public sealed class KernelSourceSet
{
    private const string ResourcePrefix = "kernels/";
    private static readonly Lazy<KernelSourceSet> EmbeddedSet = new(LoadEmbedded);

    private readonly Dictionary<string, string> files;
    private string? contentHash;

    public KernelSourceSet(IReadOnlyDictionary<string, string> files)
    {
        foreach (var name in files.Keys)
        {
            if (!name.EndsWith(".cu", StringComparison.Ordinal) && !name.EndsWith(".cuh", StringComparison.Ordinal))
                throw new ArgumentException($"kernel source '{name}' is neither a .cu kernel file nor a .cuh header", nameof(files));
        }
        this.files = new Dictionary<string, string>(files, StringComparer.Ordinal);
        KernelFiles = this.files.Keys.Where(k => k.EndsWith(".cu", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        Headers = this.files.Where(f => f.Key.EndsWith(".cuh", StringComparison.Ordinal))
            .OrderBy(f => f.Key, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The kernels/ directory of the repository, as embedded in CoAR.Engine.Managed.</summary>
    public static KernelSourceSet Embedded => EmbeddedSet.Value;

    /// <summary>Kernel file names ("rows.cu"), sorted.</summary>
    public IReadOnlyList<string> KernelFiles { get; }

    /// <summary>Header name and text, sorted by name; every compilation gets all of them.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>SHA-256 (hex) over every file's name and text: changes when any kernel or header does.</summary>
    public string ContentHash => contentHash ??= ComputeContentHash();

    public string Source(string kernelFile) => files.TryGetValue(kernelFile, out var text) && kernelFile.EndsWith(".cu", StringComparison.Ordinal)
        ? text
        : throw new KeyNotFoundException($"no kernel file '{kernelFile}'; the kernel files are: {string.Join(", ", KernelFiles)}");

    /// <summary>A copy with one file added or replaced (tests use it to change a source).</summary>
    public KernelSourceSet With(string name, string text) => new(new Dictionary<string, string>(files) { [name] = text });

    private string ComputeContentHash()
    {
        // Length-prefixed names and texts, so no two different sets concatenate to the same bytes.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, text) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            foreach (var part in new[] { name, text })
            {
                var bytes = Encoding.UTF8.GetBytes(part);
                hash.AppendData(BitConverter.GetBytes(bytes.LongLength));
                hash.AppendData(bytes);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static KernelSourceSet LoadEmbedded()
    {
        var assembly = typeof(KernelSourceSet).Assembly;
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
            sources[resource[ResourcePrefix.Length..]] = Read(assembly, resource);
        if (!sources.Keys.Any(k => k.EndsWith(".cu", StringComparison.Ordinal)))
            throw new InvalidOperationException($"{assembly.GetName().Name} embeds no kernels/*.cu resources: the build did not include kernels/");
        return new KernelSourceSet(sources);
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
