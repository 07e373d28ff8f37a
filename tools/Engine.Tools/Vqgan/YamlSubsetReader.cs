using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CoAR.Engine.Tools.Vqgan;

/// <summary>
/// The part of YAML that taming-transformers / Chameleon config files use: block mappings by indentation, block
/// sequences ("- item", also at the parent key's indentation as PyYAML writes them), inline [a, b] lists, quoted and
/// plain scalars, comments. Mappings become <see cref="Dictionary{TKey,TValue}"/> (string keys), sequences
/// <see cref="List{T}"/>, scalars long / double / bool / null / string. Anything else (anchors, tags, block scalars,
/// flow mappings) is an error naming the file and line.
/// </summary>
internal sealed partial class YamlSubsetReader
{
    private readonly string _source;
    private readonly List<Line> _lines;
    private int _next;

    private YamlSubsetReader(string source, List<Line> lines)
    {
        _source = source;
        _lines = lines;
    }

    internal static object? Parse(string text, string source)
    {
        var reader = new YamlSubsetReader(source, SplitLines(text, source));
        if (reader._lines.Count == 0)
            return null;
        object? root = reader.ParseNode(reader._lines[0].Indent);
        if (reader._next < reader._lines.Count)
            throw reader.Error(reader._lines[reader._next], "unexpected indentation");
        return root;
    }

    private readonly record struct Line(int Number, int Indent, string Text);

    private object? ParseNode(int indent) =>
        IsSequenceItem(_lines[_next].Text) ? ParseSequence(indent) : ParseMapping(indent);

    private Dictionary<string, object?> ParseMapping(int indent)
    {
        var mapping = new Dictionary<string, object?>();
        while (_next < _lines.Count && _lines[_next].Indent == indent && !IsSequenceItem(_lines[_next].Text))
        {
            Line line = _lines[_next++];
            var (key, rest) = SplitKey(line);
            if (mapping.ContainsKey(key))
                throw Error(line, $"duplicate key '{key}'");
            object? value;
            if (rest.Length > 0)
                value = ParseInline(rest, line);
            else if (_next < _lines.Count && _lines[_next].Indent > indent)
                value = ParseNode(_lines[_next].Indent);
            else if (_next < _lines.Count && _lines[_next].Indent == indent && IsSequenceItem(_lines[_next].Text))
                value = ParseSequence(indent);
            else
                value = null;
            mapping[key] = value;
        }
        if (_next < _lines.Count && _lines[_next].Indent > indent)
            throw Error(_lines[_next], "unexpected indentation");
        return mapping;
    }

    private List<object?> ParseSequence(int indent)
    {
        var items = new List<object?>();
        while (_next < _lines.Count && _lines[_next].Indent == indent && IsSequenceItem(_lines[_next].Text))
        {
            Line line = _lines[_next];
            string after = line.Text[1..].TrimStart();
            int itemIndent = indent + line.Text.Length - after.Length;
            if (after.Length == 0)
            {
                _next++;
                items.Add(_next < _lines.Count && _lines[_next].Indent > indent ? ParseNode(_lines[_next].Indent) : null);
            }
            else if (IsSequenceItem(after) || FindKeySeparator(after) >= 0)
            {
                // "- key: value" or "- - x": the item is a block node starting at the text's own column.
                _lines[_next] = line with { Indent = itemIndent, Text = after };
                items.Add(ParseNode(itemIndent));
            }
            else
            {
                _next++;
                items.Add(ParseInline(after, line));
            }
        }
        if (_next < _lines.Count && _lines[_next].Indent > indent)
            throw Error(_lines[_next], "unexpected indentation");
        return items;
    }

    private (string Key, string Value) SplitKey(Line line)
    {
        int colon = FindKeySeparator(line.Text);
        if (colon < 0)
            throw Error(line, $"expected 'key: value', found '{line.Text}'");
        string key = line.Text[..colon].Trim();
        if (key.Length >= 2 && (key[0] == '"' || key[0] == '\''))
            key = Unquote(key, line);
        return (key, line.Text[(colon + 1)..].Trim());
    }

    /// <summary>The ':' that ends a mapping key (followed by a space or the line's end), outside quotes; -1 if none.</summary>
    private static int FindKeySeparator(string text)
    {
        if (text.StartsWith('[') || text.StartsWith('{'))
            return -1;
        char quote = '\0';
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quote != '\0')
            {
                if (c == quote)
                    quote = '\0';
            }
            else if ((c == '"' || c == '\'') && i == 0)
                quote = c;
            else if (c == ':' && (i + 1 == text.Length || text[i + 1] == ' '))
                return i;
        }
        return -1;
    }

    private object? ParseInline(string text, Line line)
    {
        switch (text[0])
        {
            case '[':
                int position = 0;
                object list = ParseFlowList(text, ref position, line);
                if (text[position..].Trim().Length != 0)
                    throw Error(line, $"unexpected '{text[position..].Trim()}' after the list");
                return list;
            case '{':
                if (text.Replace(" ", "") == "{}")
                    return new Dictionary<string, object?>();
                throw Error(line, "flow mappings ({ key: value }) are not supported; write the mapping as indented lines");
            case '|' or '>':
                throw Error(line, "block scalars (| and >) are not supported");
            case '&' or '*' or '!':
                throw Error(line, "anchors, aliases and tags (&, *, !) are not supported");
            case '"' or '\'':
                return Unquote(text, line);
            default:
                return PlainScalar(text);
        }
    }

    private List<object?> ParseFlowList(string text, ref int position, Line line)
    {
        var items = new List<object?>();
        position++; // '['
        while (true)
        {
            SkipSpaces(text, ref position);
            if (position >= text.Length)
                throw Error(line, "unterminated [ list (lists must be on one line)");
            if (text[position] == ']' && items.Count == 0)
            {
                position++;
                return items;
            }
            if (text[position] == '[')
                items.Add(ParseFlowList(text, ref position, line));
            else if (text[position] is '"' or '\'')
            {
                int end = text.IndexOf(text[position], position + 1);
                if (end < 0)
                    throw Error(line, "unterminated quoted string");
                items.Add(Unquote(text[position..(end + 1)], line));
                position = end + 1;
            }
            else
            {
                int end = text.IndexOfAny([',', ']'], position);
                if (end < 0)
                    throw Error(line, "unterminated [ list (lists must be on one line)");
                string item = text[position..end].Trim();
                if (item.Length == 0 || item[0] is '{' or '&' or '*' or '!')
                    throw Error(line, $"unsupported list item '{item}'");
                items.Add(PlainScalar(item));
                position = end;
            }
            SkipSpaces(text, ref position);
            if (position >= text.Length)
                throw Error(line, "unterminated [ list (lists must be on one line)");
            if (text[position] == ']')
            {
                position++;
                return items;
            }
            if (text[position] != ',')
                throw Error(line, $"expected ',' or ']' in the list, found '{text[position]}'");
            position++;
        }
    }

    private static void SkipSpaces(string text, ref int position)
    {
        while (position < text.Length && text[position] == ' ')
            position++;
    }

    private string Unquote(string text, Line line)
    {
        char quote = text[0];
        if (text.Length < 2 || text[^1] != quote)
            throw Error(line, $"unterminated quoted string {text}");
        string body = text[1..^1];
        if (quote == '\'')
            return body.Replace("''", "'");
        var result = new StringBuilder(body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] != '\\')
            {
                result.Append(body[i]);
                continue;
            }
            if (++i >= body.Length)
                throw Error(line, "a quoted string ends in a backslash");
            result.Append(body[i] switch
            {
                'n' => '\n',
                't' => '\t',
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                _ => throw Error(line, $"escape \\{body[i]} is not supported"),
            });
        }
        return result.ToString();
    }

    /// <summary>YAML 1.1 core scalars as PyYAML's safe_load resolves them (null, bool, int, float), else a string.</summary>
    private static object? PlainScalar(string text)
    {
        switch (text)
        {
            case "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return true;
            case "false" or "False" or "FALSE":
                return false;
            case ".inf" or "+.inf" or ".Inf" or "+.Inf":
                return double.PositiveInfinity;
            case "-.inf" or "-.Inf":
                return double.NegativeInfinity;
            case ".nan" or ".NaN":
                return double.NaN;
        }
        if (IntegerPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer))
            return integer;
        if (FloatPattern().IsMatch(text))
            return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return text;
    }

    private static List<Line> SplitLines(string text, string source)
    {
        var lines = new List<Line>();
        string[] raw = text.Replace("\r\n", "\n").Split('\n');
        for (int i = 0; i < raw.Length; i++)
        {
            string content = StripComment(raw[i]).TrimEnd();
            string body = content.TrimStart(' ');
            if (body.Length == 0 || body == "---" || body == "...")
                continue;
            if (body[0] == '\t')
                throw new InvalidDataException($"{source} line {i + 1}: tabs cannot indent YAML");
            lines.Add(new Line(i + 1, content.Length - body.Length, body));
        }
        return lines;
    }

    private static string StripComment(string line)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == quote)
                    quote = '\0';
            }
            else if (c is '"' or '\'' && (i == 0 || line[i - 1] is ' ' or '[' or ',' or ':' or '-'))
                quote = c;
            else if (c == '#' && (i == 0 || line[i - 1] is ' ' or '\t'))
                return line[..i];
        }
        return line;
    }

    private static bool IsSequenceItem(string text) => text == "-" || text.StartsWith("- ", StringComparison.Ordinal);

    private InvalidDataException Error(Line line, string message) => new($"{_source} line {line.Number}: {message}");

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
