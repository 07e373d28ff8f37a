using System.Text.Json;

namespace CoAR.Engine.Graph.Text.Json;

/// <summary>
/// A JSON element together with its path in the document and the document's name, so every parse error can say
/// exactly where it is.
/// </summary>
internal readonly struct JsonCursor
{
    private readonly JsonElement _element;

    // The path is built only when asked for (errors), not for each of a vocabulary's many thousand entries.
    private readonly string _parentPath;
    private readonly string? _name;
    private readonly bool _quoted;
    private readonly int _index;

    public JsonCursor(JsonElement element, string path, string sourceName)
        : this(element, path, null, false, -1, sourceName)
    {
    }

    private JsonCursor(JsonElement element, string parentPath, string? name, bool quoted, int index, string sourceName)
    {
        _element = element;
        _parentPath = parentPath;
        _name = name;
        _quoted = quoted;
        _index = index;
        SourceName = sourceName;
    }

    /// <summary>Like <c>$.model.merges[3]</c>; map keys that are data (vocabulary entries) are quoted: <c>$.model.vocab["a"]</c>.</summary>
    public string Path => (_name, _quoted) switch
    {
        (null, _) => _index >= 0 ? $"{_parentPath}[{_index}]" : _parentPath,
        (_, false) => $"{_parentPath}.{_name}",
        _ => $"{_parentPath}[\"{_name}\"]",
    };
    public string SourceName { get; }
    public JsonValueKind Kind => _element.ValueKind;

    public TokenizerFormatException Error(string message, Exception? inner = null) => new(SourceName, Path, message, inner);

    /// <summary>The property, or null when it is missing or JSON null.</summary>
    public JsonCursor? Optional(string name)
    {
        Expect(JsonValueKind.Object);
        return _element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? new JsonCursor(value, Path, name, false, -1, SourceName)
            : null;
    }

    public JsonCursor Required(string name) =>
        Optional(name) ?? throw Error($"required field \"{name}\" is missing");

    public string RequiredString(string name) => Required(name).GetString();
    public string? OptionalString(string name) => Optional(name)?.GetString();
    public bool OptionalBool(string name, bool fallback) => Optional(name)?.GetBool() ?? fallback;
    public int OptionalInt(string name, int fallback) => Optional(name)?.GetInt() ?? fallback;

    /// <summary>A string field holding exactly one character (a surrogate pair counts as one).</summary>
    public string RequiredCharacter(string name)
    {
        var field = Required(name);
        string text = field.GetString();
        return text.EnumerateRunes().Count() == 1 ? text : throw field.Error($"expected exactly one character, found \"{text}\"");
    }

    /// <summary>The component's "type" field (normalizers, pre-tokenizers, decoders, models).</summary>
    public string ComponentType() => RequiredString("type");

    public string GetString()
    {
        Expect(JsonValueKind.String);
        try
        {
            return _element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Error("the string holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text");
        }
    }

    public bool GetBool()
    {
        if (_element.ValueKind is JsonValueKind.True or JsonValueKind.False)
            return _element.GetBoolean();
        throw Error($"expected true or false, found {Describe()}");
    }

    public int GetInt()
    {
        if (_element.ValueKind == JsonValueKind.Number && _element.TryGetInt32(out int value))
            return value;
        throw Error($"expected a 32-bit integer, found {Describe()}");
    }

    public double GetDouble()
    {
        if (_element.ValueKind == JsonValueKind.Number)
            return _element.GetDouble();
        throw Error($"expected a number, found {Describe()}");
    }

    public IEnumerable<JsonCursor> Items()
    {
        Expect(JsonValueKind.Array);
        string path = Path;
        int index = 0;
        foreach (var item in _element.EnumerateArray())
            yield return new JsonCursor(item, path, null, false, index++, SourceName);
    }

    public int ArrayLength()
    {
        Expect(JsonValueKind.Array);
        return _element.GetArrayLength();
    }

    public int PropertyCount()
    {
        Expect(JsonValueKind.Object);
        return _element.GetPropertyCount();
    }

    public IEnumerable<(string Name, JsonCursor Value)> Properties()
    {
        Expect(JsonValueKind.Object);
        string path = Path;
        foreach (var property in _element.EnumerateObject())
        {
            string name;
            try
            {
                name = property.Name;
            }
            catch (InvalidOperationException)
            {
                throw Error("a key holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text");
            }
            yield return (name, new JsonCursor(property.Value, path, name, true, -1, SourceName));
        }
    }

    public void Expect(JsonValueKind kind)
    {
        if (_element.ValueKind != kind)
            throw Error($"expected {KindName(kind)}, found {Describe()}");
    }

    private string Describe() => _element.ValueKind switch
    {
        JsonValueKind.String => $"the string \"{Shorten(_element.GetString()!)}\"",
        JsonValueKind.Number => $"the number {_element.GetRawText()}",
        _ => KindName(_element.ValueKind),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";

    private static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
