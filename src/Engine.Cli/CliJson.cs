using System.Text.Json;
using System.Text.Json.Serialization;

namespace CoAR.Engine.Cli;

/// <summary>The JSON style of every --json output: snake_case names, indented, nulls left out.</summary>
public static class CliJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
