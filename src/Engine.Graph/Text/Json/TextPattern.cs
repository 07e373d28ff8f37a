using System.Text;

namespace CoAR.Engine.Graph.Text.Json;

/// <summary>
/// The <c>{"String": "..."}</c> or <c>{"Regex": "..."}</c> pattern of Split, Replace (normalizer and decoder):
/// finds non-overlapping matches left to right.
/// </summary>
internal sealed class TextPattern
{
    private readonly string? _literal;
    private readonly UnicodeRegex? _regex;

    private TextPattern(string? literal, UnicodeRegex? regex)
    {
        _literal = literal;
        _regex = regex;
    }

    public static TextPattern Literal(string text) => new(text, null);

    public static TextPattern Regex(string pattern) => new(null, new UnicodeRegex(pattern));

    public static TextPattern Parse(JsonCursor cursor)
    {
        var literal = cursor.Optional("String");
        if (literal is { } l)
            return Literal(l.GetString());
        var regex = cursor.Optional("Regex");
        if (regex is { } r)
        {
            try
            {
                return Regex(r.GetString());
            }
            catch (ArgumentException e)
            {
                throw r.Error($".NET cannot compile this regular expression: {e.Message}", e);
            }
        }
        throw cursor.Error("expected a pattern object with a \"String\" or a \"Regex\" field");
    }

    /// <summary>Appends the [start, end) UTF-16 ranges of every match, in order.</summary>
    public void FindMatches(string text, List<(int Start, int End)> matches)
    {
        if (_regex is not null)
        {
            _regex.FindMatches(text, matches);
            return;
        }
        if (_literal!.Length == 0)
            return;
        int at = 0;
        while ((at = text.IndexOf(_literal, at, StringComparison.Ordinal)) >= 0)
        {
            matches.Add((at, at + _literal.Length));
            at += _literal.Length;
        }
    }

    /// <summary>Replaces every match by <paramref name="content"/>, taken literally (no $ substitutions).</summary>
    public string ReplaceAll(string text, string content)
    {
        var matches = new List<(int Start, int End)>();
        FindMatches(text, matches);
        if (matches.Count == 0)
            return text;
        var builder = new StringBuilder(text.Length);
        int last = 0;
        foreach (var (start, end) in matches)
        {
            builder.Append(text, last, start - last).Append(content);
            last = end;
        }
        return builder.Append(text, last, text.Length - last).ToString();
    }
}
