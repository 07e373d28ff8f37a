using System.Collections.Concurrent;
using System.Text;

namespace CoAR.Engine.Graph.Text.Models;

/// <summary>
/// The BPE model: a word starts as one symbol per character (continuing_subword_prefix on all but the first,
/// end_of_word_suffix on the last; unknown characters become byte tokens &lt;0xNN&gt; with byte_fallback, else the
/// unk token, else nothing, as in the reference) and merges apply lowest rank first, leftmost first on ties.
/// Results are cached per word.
/// </summary>
internal sealed class BpeModel
{
    private const int CacheCapacity = 16384;
    private const int MaxCachedWordLength = 256;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly Dictionary<long, Merge> _merges;
    private readonly BpeOptions _options;
    private readonly int? _unkId;
    private readonly int[]? _byteIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cachedWords; // ConcurrentDictionary.Count takes every lock; this is cheap and close enough.

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, BpeOptions options,
        Func<int, string, Exception> badMerge)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _options = options;
        _merges = new Dictionary<long, Merge>(merges.Count);
        int prefixLength = options.ContinuingSubwordPrefix?.Length ?? 0;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int leftId))
                throw badMerge(rank, $"its left part \"{left}\" is not in the vocabulary");
            if (!vocab.TryGetValue(right, out int rightId))
                throw badMerge(rank, $"its right part \"{right}\" is not in the vocabulary");
            if (right.Length < prefixLength)
                throw badMerge(rank, $"its right part \"{right}\" is shorter than the continuing_subword_prefix");
            string merged = left + right[prefixLength..];
            if (!vocab.TryGetValue(merged, out int mergedId))
                throw badMerge(rank, $"its result \"{merged}\" is not in the vocabulary");
            // A pair listed twice keeps its last rank, as in the reference.
            _merges[Key(leftId, rightId)] = new Merge(rank, mergedId);
        }
        if (options.UnkToken is { } unk)
            _unkId = vocab.TryGetValue(unk, out int unkId) ? unkId : null;
        if (options.ByteFallback)
        {
            _byteIds = new int[256];
            for (int b = 0; b < 256; b++)
                _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        }
    }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Tokenize(string word, List<int> output)
    {
        if (word.Length == 0)
            return;
        if (_options.IgnoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            output.Add(whole);
            return;
        }
        if (_cache.TryGetValue(word, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        var ids = MergeWord(word);
        if (word.Length <= MaxCachedWordLength && Volatile.Read(ref _cachedWords) < CacheCapacity && _cache.TryAdd(word, ids))
            Interlocked.Increment(ref _cachedWords);
        output.AddRange(ids);
    }

    private int[] MergeWord(string word)
    {
        var symbols = InitialSymbols(word);
        int n = symbols.Count;
        if (n < 2)
            return symbols.ToArray();
        var ids = symbols.ToArray();
        var next = new int[n];
        var prev = new int[n];
        for (int i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        // Priority (rank, position of the left symbol): the lowest rank merges first, the leftmost on a tie.
        var queue = new PriorityQueue<int, long>();
        for (int i = 0; i + 1 < n; i++)
            Enqueue(queue, ids, i, i + 1);
        while (queue.TryDequeue(out int left, out long priority))
        {
            int right = next[left];
            if (ids[left] < 0 || right < 0
                || !_merges.TryGetValue(Key(ids[left], ids[right]), out var merge) || merge.Rank != (int)(priority >> 32))
                continue; // stale entry: one of its symbols has merged since
            ids[left] = merge.Id;
            ids[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0)
                prev[next[right]] = left;
            if (prev[left] >= 0)
                Enqueue(queue, ids, prev[left], left);
            if (next[left] >= 0)
                Enqueue(queue, ids, left, next[left]);
        }
        var result = new List<int>(n);
        for (int i = 0; i >= 0; i = next[i])
            result.Add(ids[i]);
        return result.ToArray();
    }

    private void Enqueue(PriorityQueue<int, long> queue, int[] ids, int left, int right)
    {
        if (_merges.TryGetValue(Key(ids[left], ids[right]), out var merge))
            queue.Enqueue(left, ((long)merge.Rank << 32) | (uint)left);
    }

    private List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        int unknownCount = 0;
        var builder = new StringBuilder();
        for (int at = 0; at < word.Length;)
        {
            int length = char.IsHighSurrogate(word[at]) && at + 1 < word.Length && char.IsLowSurrogate(word[at + 1]) ? 2 : 1;
            bool first = at == 0, last = at + length == word.Length;
            var piece = word.AsSpan(at, length);
            at += length;
            if (TryLookupSymbol(piece, first, last, builder, out int id))
            {
                FlushUnknown(symbols, ref unknownCount);
                symbols.Add(id);
                continue;
            }
            if (TryAddBytes(piece, first, last, builder, symbols, ref unknownCount))
                continue;
            if (_options.UnkToken is not null)
                unknownCount++;
        }
        FlushUnknown(symbols, ref unknownCount);
        return symbols;
    }

    private bool TryLookupSymbol(ReadOnlySpan<char> piece, bool first, bool last, StringBuilder builder, out int id)
    {
        string? prefix = first ? null : _options.ContinuingSubwordPrefix;
        string? suffix = last ? _options.EndOfWordSuffix : null;
        if (prefix is null && suffix is null)
            return _vocabBySpan.TryGetValue(piece, out id);
        builder.Clear().Append(prefix).Append(piece).Append(suffix);
        return _vocab.TryGetValue(builder.ToString(), out id);
    }

    // byte_fallback: the character's UTF-8 bytes as <0xNN> tokens, but only when every one of them exists.
    private bool TryAddBytes(ReadOnlySpan<char> piece, bool first, bool last, StringBuilder builder, List<int> symbols, ref int unkCount)
    {
        if (_byteIds is null)
            return false;
        builder.Clear().Append(first ? null : _options.ContinuingSubwordPrefix).Append(piece).Append(last ? _options.EndOfWordSuffix : null);
        byte[] bytes = Encoding.UTF8.GetBytes(builder.ToString());
        foreach (byte b in bytes)
        {
            if (_byteIds[b] < 0)
                return false;
        }
        FlushUnknown(symbols, ref unkCount);
        foreach (byte b in bytes)
            symbols.Add(_byteIds[b]);
        return true;
    }

    // Pending unknown characters become one unk token (fuse_unk) or one each.
    private void FlushUnknown(List<int> symbols, ref int unknownCount)
    {
        if (unknownCount == 0)
            return;
        int unkId = _unkId ?? throw new InvalidOperationException(
            $"The BPE model's unk_token \"{_options.UnkToken}\" is not in its vocabulary, and the text has a character the vocabulary lacks.");
        for (int i = _options.FuseUnk ? unknownCount - 1 : 0; i < unknownCount; i++)
            symbols.Add(unkId);
        unknownCount = 0;
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    private readonly record struct Merge(int Rank, int Id);
}
