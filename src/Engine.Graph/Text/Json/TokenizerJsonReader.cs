using System.Text.Json;
using CoAR.Engine.Graph.Text.Decoders;
using CoAR.Engine.Graph.Text.Models;
using CoAR.Engine.Graph.Text.Normalizers;
using CoAR.Engine.Graph.Text.PreTokenizers;

namespace CoAR.Engine.Graph.Text.Json;

/// <summary>
/// Reads a Hugging Face tokenizer.json into the parts of a <see cref="BpeTokenizer"/>. The post_processor, padding
/// and truncation are accepted and ignored (the engine adds BOS itself).
/// </summary>
internal static class TokenizerJsonReader
{
    /// <summary>Vocabulary entries, merges and added tokens each: 16x Chameleon's 65536, above any released tokenizer.</summary>
    public const int MaxEntries = 1 << 20;

    public static BpeTokenizer Read(string json, string sourceName)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException(sourceName, "$", $"not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = new JsonCursor(document.RootElement, "$", sourceName);
            root.Expect(JsonValueKind.Object);
            var normalizer = root.Optional("normalizer") is { } n ? NormalizerParser.Parse(n) : null;
            var preTokenizer = root.Optional("pre_tokenizer") is { } p ? PreTokenizerParser.Parse(p) : null;
            var decoder = root.Optional("decoder") is { } d ? DecoderParser.Parse(d) : null;
            var model = ReadModel(root.Required("model"));
            var added = root.Optional("added_tokens");
            if (added is { Kind: JsonValueKind.Array })
                CheckCount(added.Value, added.Value.ArrayLength(), "added tokens");
            var addedTokens = added is { } a ? a.Items().Select(ReadAddedToken).ToArray() : [];
            return new BpeTokenizer(sourceName, model, normalizer, preTokenizer, decoder, addedTokens);
        }
    }

    private static BpeModel ReadModel(JsonCursor model)
    {
        // Old files may leave the type out; a model with merges is BPE then.
        string type = model.OptionalString("type") ?? (model.Optional("merges") is null ? "(no type)" : "BPE");
        if (type != "BPE")
            throw model.Error($"unsupported model type \"{type}\" (supported: BPE)");
        if (model.Optional("dropout") is { } dropout && dropout.GetDouble() > 0)
            throw dropout.Error($"BPE dropout {dropout.GetDouble()} is not supported (it makes encoding random); expected null or 0");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var vocabCursor = model.Required("vocab");
        CheckCount(vocabCursor, vocabCursor.Kind == JsonValueKind.Object ? vocabCursor.PropertyCount() : 0, "vocabulary entries");
        foreach (var (token, id) in vocabCursor.Properties())
        {
            int value = id.GetInt();
            if (value < 0)
                throw id.Error($"token ids must not be negative, found {value}");
            vocab[token] = value;
        }
        var mergesCursor = model.Required("merges");
        CheckCount(mergesCursor, mergesCursor.Kind == JsonValueKind.Array ? mergesCursor.ArrayLength() : 0, "merges");
        var merges = mergesCursor.Items().Select(ReadMerge).ToArray();
        var options = new BpeOptions(
            model.OptionalString("unk_token"),
            model.OptionalString("continuing_subword_prefix"),
            model.OptionalString("end_of_word_suffix"),
            model.OptionalBool("fuse_unk", false),
            model.OptionalBool("byte_fallback", false),
            model.OptionalBool("ignore_merges", false));
        return new BpeModel(vocab, merges, options,
            (rank, problem) => new TokenizerFormatException(model.SourceName, $"{mergesCursor.Path}[{rank}]", $"merge {rank} cannot apply: {problem}"));
    }

    private static void CheckCount(JsonCursor cursor, int count, string what)
    {
        if (count > MaxEntries)
            throw cursor.Error($"{count} {what}, more than the {MaxEntries} the engine accepts");
    }

    // A merge is "left right" (one space) or ["left", "right"] (newer files, where tokens may contain spaces).
    private static (string Left, string Right) ReadMerge(JsonCursor merge)
    {
        if (merge.Kind == JsonValueKind.String)
        {
            var parts = merge.GetString().Split(' ');
            return parts.Length == 2
                ? (parts[0], parts[1])
                : throw merge.Error($"expected \"left right\" with exactly one space, found \"{merge.GetString()}\"");
        }
        if (merge.Kind == JsonValueKind.Array && merge.ArrayLength() == 2)
        {
            var pair = merge.Items().Select(p => p.GetString()).ToArray();
            return (pair[0], pair[1]);
        }
        throw merge.Error("expected a merge as \"left right\" or [\"left\", \"right\"]");
    }

    private static AddedToken ReadAddedToken(JsonCursor cursor)
    {
        bool special = cursor.OptionalBool("special", false);
        var token = new AddedToken(
            cursor.Required("id").GetInt(),
            cursor.RequiredString("content"),
            cursor.OptionalBool("single_word", false),
            cursor.OptionalBool("lstrip", false),
            cursor.OptionalBool("rstrip", false),
            cursor.OptionalBool("normalized", !special),
            special);
        if (token.Id < 0)
            throw cursor.Error($"token ids must not be negative, found {token.Id}");
        if (token.Content.Length == 0)
            throw cursor.Error("an added token's content must not be empty");
        return token;
    }
}
