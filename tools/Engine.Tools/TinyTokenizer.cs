using System.Text.Encodings.Web;
using System.Text.Json;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Tools;

/// <summary>
/// The tiny model's tokenizer.json: a byte-level BPE (ByteLevel pre-tokenizer without prefix space, GPT-2 regex,
/// ByteLevel decoder) over <see cref="TinyVocabulary.Names"/> and <see cref="TinyVocabulary.TextMerges"/>, with the
/// special and reserved tokens as added tokens matched whole in text.
/// </summary>
public static class TinyTokenizer
{
    /// <summary>Writes tokenizer.json to <paramref name="path"/> atomically (temp file in the same directory, then rename).</summary>
    public static void Write(string path) => AtomicFile.Write(path, WriteJson);

    /// <summary>The tokenizer.json text.</summary>
    public static string ToJson()
    {
        using var buffer = new MemoryStream();
        WriteJson(buffer);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteJson(Stream stream)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteNull("truncation");
        json.WriteNull("padding");
        WriteAddedTokens(json);
        json.WriteNull("normalizer");
        json.WriteStartObject("pre_tokenizer");
        WriteByteLevel(json);
        json.WriteEndObject();
        json.WriteNull("post_processor");
        json.WriteStartObject("decoder");
        WriteByteLevel(json);
        json.WriteEndObject();
        WriteModel(json);
        json.WriteEndObject();
    }

    private static void WriteAddedTokens(Utf8JsonWriter json)
    {
        json.WriteStartArray("added_tokens");
        for (int id = 0; id < TinyVocabulary.Size; id++)
        {
            if (!TinyVocabulary.IsAddedToken(id))
                continue;
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("content", TinyVocabulary.Names[id]);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("special", true);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void WriteByteLevel(Utf8JsonWriter json)
    {
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", true);
    }

    private static void WriteModel(Utf8JsonWriter json)
    {
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        json.WriteString("unk_token", "<unk>");
        json.WriteNull("continuing_subword_prefix");
        json.WriteNull("end_of_word_suffix");
        json.WriteBoolean("fuse_unk", false);
        json.WriteBoolean("byte_fallback", false);
        json.WriteBoolean("ignore_merges", false);
        json.WriteStartObject("vocab");
        for (int id = 0; id < TinyVocabulary.Size; id++)
            json.WriteNumber(TinyVocabulary.Names[id], id);
        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right) in TinyVocabulary.TextMerges)
        {
            json.WriteStartArray();
            json.WriteStringValue(left);
            json.WriteStringValue(right);
            json.WriteEndArray();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
