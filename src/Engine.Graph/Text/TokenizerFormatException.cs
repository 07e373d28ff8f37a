namespace CoAR.Engine.Graph.Text;

/// <summary>
/// A tokenizer.json that cannot be used as written: names the file, the JSON path at fault (e.g.
/// <c>$.pre_tokenizer.pretokenizers[1]</c>) and what was expected versus found.
/// </summary>
public sealed class TokenizerFormatException : FormatException
{
    public TokenizerFormatException(string sourceName, string jsonPath, string message, Exception? inner = null)
        : base($"{sourceName}: {jsonPath}: {message}", inner)
    {
        SourceName = sourceName;
        JsonPath = jsonPath;
    }

    /// <summary>The file (or other source) the tokenizer came from.</summary>
    public string SourceName { get; }

    /// <summary>Where in the JSON document the problem is.</summary>
    public string JsonPath { get; }
}
