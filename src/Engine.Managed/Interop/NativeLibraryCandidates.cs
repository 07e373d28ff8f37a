namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// Where libcuda and libnvrtc are looked for, in order. An override variable replaces the whole list. Bare sonames go
/// first (the system loader's own search: LD_LIBRARY_PATH, ld.so.cache), then the directories drivers, CUDA toolkits,
/// containers and pip wheels put them in, so a library outside the loader's path is still found.
/// </summary>
internal static class NativeLibraryCandidates
{
    private static readonly string[] DriverDirectories =
    [
        "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/cuda/compat", "/usr/local/nvidia/lib64",
        "/usr/local/nvidia/lib", "/usr/lib/wsl/lib",
    ];

    /// <summary>NVRTC's major versions, newest first: the newest compiler knows the most architectures.</summary>
    private static readonly string[] NvrtcSonames = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"];

    public static IReadOnlyList<string> ForLibcuda(Func<string, string?> environment)
    {
        if (environment("COAR_LIBCUDA") is { Length: > 0 } path)
            return [path];
        var list = new List<string> { "libcuda.so.1", "libcuda.so" };
        foreach (var directory in LibraryPath(environment).Concat(DriverDirectories))
        {
            list.Add(Path.Combine(directory, "libcuda.so.1"));
            list.Add(Path.Combine(directory, "libcuda.so"));
        }
        return Distinct(list);
    }

    public static IReadOnlyList<string> ForNvrtc(Func<string, string?> environment)
    {
        if (environment("COAR_NVRTC") is { Length: > 0 } path)
            return [path];
        var list = new List<string>(NvrtcSonames);
        foreach (var directory in NvrtcDirectories(environment))
            list.AddRange(NvrtcFilesIn(directory));
        list.Add("libnvrtc.so");
        return Distinct(list);
    }

    /// <summary>
    /// The libnvrtc files in a directory: every versioned libnvrtc.so.* newest first, then the unversioned dev link.
    /// A directory that does not exist contributes its pattern, so the trace shows it was looked at.
    /// </summary>
    public static IEnumerable<string> NvrtcFilesIn(string directory)
    {
        if (!Directory.Exists(directory))
            return [Path.Combine(directory, "libnvrtc.so.*")];
        var versioned = Directory.EnumerateFiles(directory, "libnvrtc.so.*")
            .OrderByDescending(f => SonameVersion(Path.GetFileName(f)), VersionComparer.Instance)
            .ToList();
        versioned.Add(Path.Combine(directory, "libnvrtc.so"));
        return versioned;
    }

    /// <summary>The numbers after ".so." in a library file name: "libnvrtc.so.12.4.99" gives [12, 4, 99].</summary>
    public static int[] SonameVersion(string fileName)
    {
        int at = fileName.IndexOf(".so.", StringComparison.Ordinal);
        if (at < 0)
            return [];
        var parts = fileName[(at + 4)..].Split('.');
        return parts.Select(p => int.TryParse(p, out var n) ? n : -1).ToArray();
    }

    private static IEnumerable<string> NvrtcDirectories(Func<string, string?> environment)
    {
        foreach (var directory in LibraryPath(environment))
            yield return directory;
        if (environment("CUDA_HOME") is { Length: > 0 } cudaHome)
            yield return Path.Combine(cudaHome, "lib64");
        if (environment("CUDA_PATH") is { Length: > 0 } cudaPath)
            yield return Path.Combine(cudaPath, "lib64");
        yield return "/usr/local/cuda/lib64";
        yield return "/usr/local/cuda/targets/x86_64-linux/lib";
        foreach (var toolkit in Subdirectories("/usr/local", "cuda-*").OrderByDescending(VersionOfToolkit, VersionComparer.Instance))
            yield return Path.Combine(toolkit, "lib64");
        yield return "/usr/lib/x86_64-linux-gnu";
        yield return "/usr/lib64";
        if (environment("CONDA_PREFIX") is { Length: > 0 } conda)
            yield return Path.Combine(conda, "lib");
        foreach (var sitePackages in SitePackages(environment))
        {
            // pip wheels: nvidia-cuda-nvrtc-cu11/cu12 use cuda_nvrtc/lib, the CUDA 13 wheels a shared cu13/lib.
            yield return Path.Combine(sitePackages, "nvidia", "cuda_nvrtc", "lib");
            yield return Path.Combine(sitePackages, "nvidia", "cu13", "lib");
        }
    }

    /// <summary>Python's package directories that exist, found by listing a few known roots (no Python is run).</summary>
    private static IEnumerable<string> SitePackages(Func<string, string?> environment)
    {
        var roots = new List<string>();
        if (environment("VIRTUAL_ENV") is { Length: > 0 } venv)
            roots.Add(Path.Combine(venv, "lib"));
        if (environment("CONDA_PREFIX") is { Length: > 0 } conda)
            roots.Add(Path.Combine(conda, "lib"));
        if (environment("HOME") is { Length: > 0 } home)
            roots.Add(Path.Combine(home, ".local", "lib"));
        roots.AddRange(["/usr/local/lib", "/usr/lib", "/opt/conda/lib"]);
        foreach (var python in roots.SelectMany(r => Subdirectories(r, "python3*")))
        {
            foreach (var leaf in new[] { "site-packages", "dist-packages" })
            {
                var directory = Path.Combine(python, leaf);
                if (Directory.Exists(directory))
                    yield return directory;
            }
        }
    }

    private static IEnumerable<string> LibraryPath(Func<string, string?> environment) =>
        (environment("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IEnumerable<string> Subdirectories(string root, string pattern)
    {
        try
        {
            return Directory.Exists(root) ? Directory.EnumerateDirectories(root, pattern).ToList() : [];
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static int[] VersionOfToolkit(string directory) =>
        Path.GetFileName(directory)["cuda-".Length..].Split('.').Select(p => int.TryParse(p, out var n) ? n : -1).ToArray();

    private static IReadOnlyList<string> Distinct(List<string> list) => list.Distinct(StringComparer.Ordinal).ToList();

    private sealed class VersionComparer : IComparer<int[]>
    {
        public static readonly VersionComparer Instance = new();

        public int Compare(int[]? x, int[]? y)
        {
            x ??= [];
            y ??= [];
            for (int i = 0; i < Math.Max(x.Length, y.Length); i++)
            {
                int a = i < x.Length ? x[i] : -1, b = i < y.Length ? y[i] : -1;
                if (a != b)
                    return a.CompareTo(b);
            }
            return 0;
        }
    }
}
