using System.Text.RegularExpressions;
using CoAR.Engine.Graph.Text;

namespace CoAR.Engine.Tools;

/// <summary>
/// Learns byte-level BPE merges the classic way, deterministically: words are the GPT-2 regex pieces spelled in the
/// byte alphabet; each round merges the most frequent adjacent pair (ties: the ordinally smallest pair) in every
/// word, until the limit or until no pair occurs twice.
/// </summary>
internal static class TinyBpeTrainer
{
    public static IReadOnlyList<(string Left, string Right)> Train(string corpus, int maxMerges)
    {
        var wordCounts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var split = new Regex(ByteLevelAlphabet.Gpt2SplitPattern, RegexOptions.CultureInvariant);
        for (var m = split.Match(corpus); m.Success; m = m.NextMatch())
        {
            string word = ByteLevelAlphabet.Encode(m.Value);
            wordCounts[word] = wordCounts.GetValueOrDefault(word) + 1;
        }
        var words = wordCounts.Select(w => (Symbols: w.Key.Select(c => c.ToString()).ToList(), Count: w.Value)).ToList();
        var merges = new List<(string, string)>();
        while (merges.Count < maxMerges)
        {
            var pairCounts = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                    pairCounts[(symbols[i], symbols[i + 1])] = pairCounts.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            }
            if (pairCounts.Count == 0)
                break;
            var best = pairCounts
                .OrderByDescending(p => p.Value)
                .ThenBy(p => p.Key.Item1, StringComparer.Ordinal)
                .ThenBy(p => p.Key.Item2, StringComparer.Ordinal)
                .First();
            if (best.Value < 2)
                break;
            merges.Add(best.Key);
            foreach (var (symbols, _) in words)
                ApplyMerge(symbols, best.Key.Item1, best.Key.Item2);
        }
        return merges;
    }

    private static void ApplyMerge(List<string> symbols, string left, string right)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] == left && symbols[i + 1] == right)
            {
                symbols[i] = left + right;
                symbols.RemoveAt(i + 1);
            }
        }
    }
}
