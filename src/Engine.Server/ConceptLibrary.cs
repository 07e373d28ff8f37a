using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;

namespace CoAR.Engine.Server;

/// <summary>
/// The concepts requests may name: those loaded at startup (by file name without extension), and NAME.safetensors
/// files of a directory, loaded on first use and again when the file changes. Every concept must have been trained on
/// the served model. A request names a concept as "NAME", bound to its own placeholder, or "NAME=[V2]".
/// </summary>
public sealed partial class ConceptLibrary
{
    private readonly CoarEngine _engine;
    private readonly Dictionary<string, Concept> _loaded = new(StringComparer.Ordinal);
    private readonly string? _directory;
    private readonly ConcurrentDictionary<string, (DateTime Written, long Length, Concept Concept)> _fromDirectory = new(StringComparer.Ordinal);

    /// <summary>Loads the startup concepts; an error naming the file when one cannot be used with this model.</summary>
    public ConceptLibrary(CoarEngine engine, IReadOnlyList<(string Name, string File)> concepts, string? directory)
    {
        _engine = engine;
        foreach (var (name, file) in concepts)
        {
            if (!ValidName().IsMatch(name))
                throw new InvalidDataException($"{file}: '{name}' cannot name a concept (letters, digits, '.', '_' and '-', starting with a letter or digit)");
            if (!_loaded.TryAdd(name, Load(file)))
                throw new InvalidDataException($"{file}: a concept named '{name}' is already loaded; rename one of the files");
        }
        if (directory is not null && !Directory.Exists(directory))
            throw new DirectoryNotFoundException($"--concepts-dir '{directory}': no such directory");
        _directory = directory;
    }

    /// <summary>The names of the concepts loaded at startup.</summary>
    public IEnumerable<string> Names => _loaded.Keys;

    /// <summary>
    /// The concepts a request names, bound to their placeholders, subjects first (their image slots come first); an
    /// <see cref="ApiError"/> naming the field 'concepts' when one is unknown, unusable or two share a placeholder.
    /// </summary>
    public IReadOnlyList<Concept> Resolve(IReadOnlyList<string> references)
    {
        var concepts = new List<Concept>();
        foreach (var reference in references)
        {
            int eq = reference.IndexOf('=');
            string name = eq > 0 ? reference[..eq] : reference;
            var concept = Find(name);
            if (eq > 0) concept = concept.WithPlaceholder(reference[(eq + 1)..]);
            if (concepts.FirstOrDefault(c => c.Placeholder == concept.Placeholder) is { } clash)
                throw ApiError.BadField("concepts", $"two concepts use the placeholder {clash.Placeholder}; bind one to another, like \"{name}=[V2]\"");
            concepts.Add(concept);
        }
        return concepts.OrderBy(c => c.Kind == ConceptKind.Subject ? 0 : 1).ToList();
    }

    private Concept Find(string name)
    {
        if (_loaded.TryGetValue(name, out var concept)) return concept;
        string known = _loaded.Count > 0 ? $" (loaded: {string.Join(", ", _loaded.Keys)})" : "";
        if (_directory is null || !ValidName().IsMatch(name))
            throw ApiError.BadField("concepts", $"no concept named '{name}'{known}");
        string file = Path.Combine(_directory, name + ".safetensors");
        var info = new FileInfo(file);
        if (!info.Exists)
            throw ApiError.BadField("concepts", $"no concept named '{name}'{known} and no {name}.safetensors in the concepts directory");
        if (_fromDirectory.TryGetValue(name, out var cached) && cached.Written == info.LastWriteTimeUtc && cached.Length == info.Length)
            return cached.Concept;
        try
        {
            concept = Load(file);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or Managed.SafeTensors.SafeTensorsException)
        {
            throw ApiError.BadField("concepts", $"concept '{name}' cannot be used: {e.Message.Replace(_directory, "", StringComparison.Ordinal)}");
        }
        _fromDirectory[name] = (info.LastWriteTimeUtc, info.Length, concept);
        return concept;
    }

    private Concept Load(string file)
    {
        var concept = ConceptFile.Load(file, _engine.Fingerprint).Concept;
        ConceptFile.CheckFits(concept, _engine.Model.Config, file);
        return concept;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex ValidName();
}
