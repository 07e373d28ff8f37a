using System.Text.RegularExpressions;
using CoAR.Engine.Graph.Text;
using CoAR.Engine.Tools;

namespace CoAR.Engine.Tests.Text;

/// <summary>
/// An independent, deliberately naive GPT-2 byte-level BPE (openai/gpt-2 encoder.py's loop: merge every occurrence of
/// the lowest-ranked pair, repeat) over the tiny vocabulary, to check the engine's tokenizer against.
/// </summary>
internal static class ReferenceBpe
{
    private static readonly Dictionary<(string, string), int> Ranks = TinyVocabulary.TextMerges
        .Select((merge, rank) => (merge, rank))
        .GroupBy(m => m.merge)
        .ToDictionary(g => g.Key, g => g.Last().rank);

    private static readonly Dictionary<string, int> Ids = TinyVocabulary.Names
        .Select((name, id) => (name, id))
        .ToDictionary(n => n.name, n => n.id);

    /// <summary>Token ids of plain text (no added tokens in it).</summary>
    public static List<int> Encode(string text)
    {
        var ids = new List<int>();
        foreach (Match word in Regex.Matches(text, ByteLevelAlphabet.Gpt2SplitPattern))
            ids.AddRange(MergeWord(ByteLevelAlphabet.Encode(word.Value)).Select(token => Ids[token]));
        return ids;
    }

    private static List<string> MergeWord(string word)
    {
        var symbols = word.Select(c => c.ToString()).ToList();
        while (true)
        {
            (string Left, string Right)? best = null;
            int bestRank = int.MaxValue;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                if (Ranks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    best = (symbols[i], symbols[i + 1]);
                }
            }
            if (best is not { } pair)
                return symbols;
            var merged = new List<string>(symbols.Count);
            for (int i = 0; i < symbols.Count;)
            {
                if (i + 1 < symbols.Count && symbols[i] == pair.Left && symbols[i + 1] == pair.Right)
                {
                    merged.Add(pair.Left + pair.Right);
                    i += 2;
                }
                else
                {
                    merged.Add(symbols[i++]);
                }
            }
            symbols = merged;
        }
    }
}
