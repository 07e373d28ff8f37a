using System.Text;
using System.Text.RegularExpressions;

namespace CoAR.Engine.Graph.Text.Json;

/// <summary>
/// The <c>{"String": "..."}</c> or <c>{"Regex": "..."}</c> pattern of Split, Replace (normalizer and decoder):
/// finds non-overlapping matches left to right.
/// </summary>
internal sealed class TextPattern
{
    private readonly string? _literal;
    private readonly UnicodeRegex? _regex;
    private readonly string _where;

    private TextPattern(string? literal, UnicodeRegex? regex, string where)
    {
        _literal = literal;
        _regex = regex;
        _where = where;
    }

    public static TextPattern Literal(string text) => new(text, null, "");

    /// <param name="where">Names the pattern in a time-out error: the tokenizer file and JSON path.</param>
    public static TextPattern Regex(string pattern, string where = "built-in pattern") => new(null, new UnicodeRegex(pattern), where);

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
                return Regex(r.GetString(), $"{r.SourceName}: {r.Path}");
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
            try
            {
                _regex.FindMatches(text, matches);
            }
            catch (RegexMatchTimeoutException)
            {
                throw new InvalidDataException($"{_where}: the regular expression /{_regex.Pattern}/ took longer than "
                                               + $"{UnicodeRegex.MatchTimeout.TotalSeconds:0} s on a {text.Length}-character text "
                                               + "(catastrophic backtracking); a tokenizer's pre-tokenizer must not");
            }
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
