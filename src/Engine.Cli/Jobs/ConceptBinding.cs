using CoAR.Engine.Graph;
using CoAR.Engine.Graph.Concepts;

namespace CoAR.Engine.Cli.Jobs;

/// <summary>--concept FILE or FILE=PLACEHOLDER: concept files bound to prompt placeholders.</summary>
public static class ConceptBinding
{
    public static (string File, string? Placeholder) Parse(string argument)
    {
        int eq = argument.LastIndexOf('=');
        return eq > 0 && !File.Exists(argument) ? (argument[..eq], argument[(eq + 1)..]) : (argument, null);
    }

    /// <summary>
    /// Loads the concepts for the engine's base model (a concept from another model is refused), rebinds placeholders
    /// where asked, refuses two concepts on one placeholder, and orders subjects before styles (their image slots
    /// go in that order before the image).
    /// </summary>
    public static IReadOnlyList<Concept> Load(IReadOnlyList<string> arguments, CoarEngine engine)
    {
        var concepts = new List<Concept>();
        foreach (var argument in arguments)
        {
            var (file, placeholder) = Parse(argument);
            var concept = ConceptFile.Load(file, engine.Fingerprint).Concept;
            ConceptFile.CheckFits(concept, engine.Model.Config, file);
            if (placeholder is not null) concept = concept.WithPlaceholder(placeholder);
            if (concepts.FirstOrDefault(c => c.Placeholder == concept.Placeholder) is { } clash)
                throw new UsageException($"two concepts use the placeholder {clash.Placeholder}; bind one to another with --concept {file}=[V2]");
            concepts.Add(concept);
        }
        return concepts.OrderBy(c => c.Kind == ConceptKind.Subject ? 0 : 1).ToList();
    }

    /// <summary>What identifies the concepts of a job (files and their contents), for its manifest.</summary>
    public static string Describe(IReadOnlyList<string> arguments) =>
        string.Join(";", arguments.Select(a =>
        {
            var (file, placeholder) = Parse(a);
            string hash = FileDigest.Of(file, ConceptFile.MaxFileBytes, "concept file");
            return $"{Path.GetFileName(file)}:{hash}{(placeholder is null ? "" : "=" + placeholder)}";
        }));
}
