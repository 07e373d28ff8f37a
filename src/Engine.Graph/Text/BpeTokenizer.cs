using System.Diagnostics.CodeAnalysis;
using CoAR.Engine.Graph.Text.Decoders;
using CoAR.Engine.Graph.Text.Json;
using CoAR.Engine.Graph.Text.Models;
using CoAR.Engine.Graph.Text.Normalizers;
using CoAR.Engine.Graph.Text.PreTokenizers;

namespace CoAR.Engine.Graph.Text;

/// <summary>
/// A Hugging Face tokenizer.json with a BPE model, run the way the tokenizers library runs it: added tokens are cut
/// out of the raw text first (then, for "normalized" ones, out of the normalized text), every other piece is
/// normalized, pre-tokenized and BPE-encoded. No special tokens are added (the engine adds BOS itself).
/// Thread-safe.
/// </summary>
public sealed class BpeTokenizer
{
    private const int MaxVocabularySize = 1 << 21;

    private readonly BpeModel _model;
    private readonly ITextNormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly ITokenDecoder? _decoder;
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;
    private readonly Dictionary<string, AddedToken> _addedByContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _addedById = new();
    private readonly string?[] _tokenById;
    private readonly Dictionary<string, int> _vocabulary;

    internal BpeTokenizer(string sourceName, BpeModel model, ITextNormalizer? normalizer, IPreTokenizer? preTokenizer,
        ITokenDecoder? decoder, IReadOnlyList<AddedToken> addedTokens)
    {
        SourceName = sourceName;
        _model = model;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _decoder = decoder;
        foreach (var token in addedTokens)
        {
            _addedByContent.TryAdd(token.Content, token);
            _addedById[token.Id] = token;
        }
        AddedTokens = addedTokens;
        // The reference matches special tokens before the others; among equal matches the first listed wins.
        var ordered = addedTokens.Where(t => t.Special).Concat(addedTokens.Where(t => !t.Special)).ToArray();
        _rawMatcher = new AddedTokenMatcher(ordered.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        _normalizedMatcher = new AddedTokenMatcher(ordered.Where(t => t.Normalized)
            .Select(t => (normalizer?.Normalize(t.Content) ?? t.Content, t)));

        _vocabulary = new Dictionary<string, int>(model.Vocab, StringComparer.Ordinal);
        foreach (var token in addedTokens)
            _vocabulary[token.Content] = token.Id;
        int maxId = _vocabulary.Count == 0 ? -1 : _vocabulary.Values.Max();
        if (maxId >= MaxVocabularySize)
            throw new TokenizerFormatException(sourceName, "$.model.vocab", $"token id {maxId} is larger than the supported {MaxVocabularySize - 1}");
        _tokenById = new string?[maxId + 1];
        foreach (var (token, id) in model.Vocab)
            _tokenById[id] ??= token;
        foreach (var token in addedTokens)
            _tokenById[token.Id] = token.Content;
    }

    /// <summary>Where the tokenizer came from (file path or the name given to <see cref="FromJson"/>).</summary>
    public string SourceName { get; }

    /// <summary>One past the largest token id (model vocabulary and added tokens).</summary>
    public int VocabSize => _tokenById.Length;

    /// <summary>Token name to id: the model's vocabulary plus the added tokens.</summary>
    public IReadOnlyDictionary<string, int> Vocabulary => _vocabulary;

    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The largest tokenizer.json read (Chameleon's is 2 MiB; large multilingual ones reach ~20 MiB).</summary>
    public const long MaxFileBytes = 128L << 20;

    public static BpeTokenizer Load(string tokenizerJsonPath)
    {
        string json;
        try
        {
            json = Managed.Files.InputFile.ReadAllText(tokenizerJsonPath, MaxFileBytes, "tokenizer file");
        }
        catch (InvalidDataException e)
        {
            throw new TokenizerFormatException(tokenizerJsonPath, "$", e.Message, e);
        }
        return FromJson(json, tokenizerJsonPath);
    }

    public static BpeTokenizer FromJson(string json, string sourceName) => TokenizerJsonReader.Read(json, sourceName);

    /// <summary>Token ids of <paramref name="text"/>, without BOS or EOS.</summary>
    public IReadOnlyList<int> Encode(string text) => Encode(text, isTextStart: true);

    /// <summary>
    /// Token ids of <paramref name="text"/>. <paramref name="isTextStart"/> false encodes it as the continuation of
    /// earlier text, as a piece after an added token would be (Metaspace's prepend_scheme "first" prepends nothing).
    /// </summary>
    public IReadOnlyList<int> Encode(string text, bool isTextStart)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>();
        var segments = new List<TextSegment>();
        var normalizedSegments = new List<TextSegment>();
        var pieces = new List<PreToken>();
        _rawMatcher.Split(text, segments);
        foreach (var segment in segments)
        {
            if (segment.Token is not null)
            {
                ids.Add(segment.Token.Id);
                continue;
            }
            string raw = text[segment.Start..segment.End];
            string normalized = _normalizer?.Normalize(raw) ?? raw;
            normalizedSegments.Clear();
            _normalizedMatcher.Split(normalized, normalizedSegments);
            foreach (var part in normalizedSegments)
            {
                if (part.Token is not null)
                {
                    ids.Add(part.Token.Id);
                    continue;
                }
                pieces.Clear();
                pieces.Add(new PreToken(normalized[part.Start..part.End], isTextStart && segment.Start == 0 && part.Start == 0));
                _preTokenizer?.PreTokenize(pieces);
                foreach (var piece in pieces)
                    _model.Tokenize(piece.Text, ids);
            }
        }
        return ids;
    }

    /// <summary>
    /// The text of <paramref name="ids"/> through the file's decoder (tokens joined by spaces when it has none).
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            string token = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id,
                $"Token id {id} is not in the vocabulary of {SourceName} (ids 0..{VocabSize - 1}).");
            if (skipSpecialTokens && _addedById.TryGetValue(id, out var added) && added.Special)
                continue;
            tokens.Add(token);
        }
        return _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.DecodeChain(tokens));
    }

    public bool TryGetId(string token, out int id) => _vocabulary.TryGetValue(token, out id);

    public string? IdToToken(int id) => (uint)id < (uint)_tokenById.Length ? _tokenById[id] : null;

    public bool TryGetAddedToken(string content, [NotNullWhen(true)] out AddedToken? token) =>
        _addedByContent.TryGetValue(content, out token);
}
