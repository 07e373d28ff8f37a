using System.Text.Json.Nodes;
using CoAR.Engine.Graph.Text;

namespace CoAR.Engine.Tests.Text;

/// <summary>Builds small tokenizer.json documents for tests: a vocabulary in id order, merges, and pipeline parts.</summary>
internal sealed class TokenizerJsonFixture
{
    private readonly List<string> _vocab = [];
    private readonly List<(string Left, string Right)> _merges = [];
    private readonly JsonArray _addedTokens = [];

    public JsonNode? Normalizer { get; set; }
    public JsonNode? PreTokenizer { get; set; }
    public JsonNode? Decoder { get; set; }
    public JsonObject ModelOptions { get; } = new();

    /// <summary>Merges written as ["a", "b"] pairs (true) or "a b" strings (false).</summary>
    public bool MergesAsPairs { get; set; }

    /// <summary>The 256 GPT-2 byte symbols with id = byte value, so unmerged text encodes to its UTF-8 bytes.</summary>
    public static TokenizerJsonFixture ByteLevel(bool addPrefixSpace = false)
    {
        var fixture = new TokenizerJsonFixture
        {
            PreTokenizer = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = true, ["use_regex"] = true },
            Decoder = new JsonObject { ["type"] = "ByteLevel" },
        };
        for (int b = 0; b < 256; b++)
            fixture.Token(ByteLevelAlphabet.ByteToChar((byte)b).ToString());
        return fixture;
    }

    public int Token(string token)
    {
        _vocab.Add(token);
        return _vocab.Count - 1;
    }

    /// <summary>Adds a merge and its result token; returns the result's id.</summary>
    public int Merge(string left, string right)
    {
        _merges.Add((left, right));
        int existing = _vocab.IndexOf(left + right);
        return existing >= 0 ? existing : Token(left + right);
    }

    public int Id(string token) => _vocab.IndexOf(token) is var id and >= 0 ? id : throw new ArgumentException($"no token {token}");

    public int AddedToken(string content, bool special = true, bool normalized = false, bool lstrip = false, bool rstrip = false,
        bool singleWord = false, bool inVocabulary = true)
    {
        int id = inVocabulary ? Token(content) : _vocab.Count + 1000 + _addedTokens.Count;
        _addedTokens.Add(new JsonObject
        {
            ["id"] = id, ["content"] = content, ["single_word"] = singleWord, ["lstrip"] = lstrip, ["rstrip"] = rstrip,
            ["normalized"] = normalized, ["special"] = special,
        });
        return id;
    }

    public string ToJson()
    {
        var vocab = new JsonObject();
        for (int id = 0; id < _vocab.Count; id++)
            vocab[_vocab[id]] = id;
        var merges = new JsonArray();
        foreach (var (left, right) in _merges)
            merges.Add(MergesAsPairs ? new JsonArray(left, right) : JsonValue.Create($"{left} {right}"));
        var model = new JsonObject { ["type"] = "BPE", ["dropout"] = null, ["vocab"] = vocab, ["merges"] = merges };
        foreach (var (key, value) in ModelOptions)
            model[key] = value?.DeepClone();
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = _addedTokens.DeepClone(),
            ["normalizer"] = Normalizer?.DeepClone(),
            ["pre_tokenizer"] = PreTokenizer?.DeepClone(),
            ["post_processor"] = new JsonObject { ["type"] = "TemplateProcessing", ["single"] = new JsonArray() },
            ["decoder"] = Decoder?.DeepClone(),
            ["model"] = model,
        };
        return root.ToJsonString();
    }

    public BpeTokenizer Build() => BpeTokenizer.FromJson(ToJson(), "fixture");
}
