using System.Runtime.InteropServices;

namespace CoAR.Engine.Managed.Interop;

/// <summary>
/// Finds and loads one native library: an override variable names the file outright, otherwise each candidate (bare
/// sonames go through the system loader's search, absolute paths are tried directly) is tried in order. The first
/// attempt's outcome is kept, with a line per path tried, so a failure can say exactly where it looked.
/// </summary>
internal sealed class NativeLibraryProbe
{
    private readonly Func<IReadOnlyList<string>> candidates;
    private readonly string anchorSymbol;
    private readonly Lock gate = new();
    private bool attempted;
    private nint handle;
    private string? loadedPath;
    private readonly List<string> trace = [];

    /// <param name="name">Short name for messages ("libcuda").</param>
    /// <param name="description">What the library is, for messages.</param>
    /// <param name="overrideVariable">Environment variable that names the file outright.</param>
    /// <param name="anchorSymbol">An export of the library, used to find the file a bare soname resolved to.</param>
    /// <param name="candidates">Sonames and paths to try, in order.</param>
    public NativeLibraryProbe(string name, string description, string overrideVariable, string anchorSymbol,
        Func<IReadOnlyList<string>> candidates)
    {
        this.anchorSymbol = anchorSymbol;
        Name = name;
        Description = description;
        OverrideVariable = overrideVariable;
        this.candidates = candidates;
    }

    /// <summary>Short name for messages ("libcuda").</summary>
    public string Name { get; }

    public string Description { get; }

    /// <summary>Environment variable that, when set, is the only path tried.</summary>
    public string OverrideVariable { get; }

    /// <summary>The file that loaded (a soname found by the system search is resolved to its file); null before a load.</summary>
    public string? LoadedPath
    {
        get { lock (gate) return loadedPath; }
    }

    /// <summary>One line per path tried: the path and what happened.</summary>
    public IReadOnlyList<string> Trace
    {
        get { lock (gate) return [.. trace]; }
    }

    public bool TryLoad(out nint library)
    {
        lock (gate)
        {
            if (!attempted)
            {
                attempted = true;
                Probe();
            }
            library = handle;
            return handle != 0;
        }
    }

    /// <summary>Why the library could not be loaded: its name, and every path tried with the loader's answer.</summary>
    public string FailureReason()
    {
        lock (gate)
        {
            var lines = string.Join(Environment.NewLine, trace.Select(t => "  " + t));
            var overridden = Environment.GetEnvironmentVariable(OverrideVariable);
            var how = string.IsNullOrEmpty(overridden)
                ? $"set {OverrideVariable} to its full path if it is installed elsewhere"
                : $"{OverrideVariable}={overridden} could not be loaded";
            return $"{Name} ({Description}) was not found ({how}); tried:{Environment.NewLine}{lines}";
        }
    }

    private void Probe()
    {
        foreach (var candidate in candidates())
        {
            bool rooted = Path.IsPathRooted(candidate);
            if (rooted && !File.Exists(candidate))
            {
                trace.Add($"{candidate}: no such file");
                continue;
            }
            try
            {
                handle = NativeLibrary.Load(candidate);
                loadedPath = rooted ? candidate : LoadedFile.Of(handle, anchorSymbol) ?? candidate;
                trace.Add(loadedPath == candidate ? $"{candidate}: loaded" : $"{candidate} (system search path): loaded {loadedPath}");
                return;
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                trace.Add($"{candidate}{(rooted ? "" : " (system search path)")}: {LoaderError(candidate, e.Message)}");
            }
        }
    }

    /// <summary>
    /// The runtime wraps dlerror's text ("path: file too short") in advice about strace; keep the loader's own
    /// words, without the path the trace line already starts with.
    /// </summary>
    private static string LoaderError(string candidate, string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var loader = lines
            .Where(l => l.Contains(": ", StringComparison.Ordinal) && !l.StartsWith("Unable to load", StringComparison.Ordinal))
            .Select(l => l.StartsWith(candidate + ": ", StringComparison.Ordinal) ? l[(candidate.Length + 2)..] : l)
            .Distinct()
            .ToList();
        return loader.Count > 0 ? string.Join("; ", loader) : string.Join(" ", lines);
    }
}
