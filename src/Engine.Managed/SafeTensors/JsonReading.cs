using System.Text.Json;

namespace CoAR.Engine.Managed.SafeTensors;

internal static class JsonReading
{
    /// <summary>Reads the next token; running out of input inside a value is malformed JSON.</summary>
    public static JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
            throw new JsonException("the JSON ends before its object is closed");
        return reader.TokenType;
    }
}
