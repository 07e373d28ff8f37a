using System.Globalization;
using System.Text;

namespace CoAR.Engine.Graph.Text;

/// <summary>
/// Finds added tokens in text, leftmost first and longest first at the same position (the reference's
/// Aho-Corasick LeftmostLongest), and cuts the text into plain segments and token segments.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<string, AddedToken> _byPattern = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AddedToken>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<char, int[]> _lengthsByFirstChar;

    /// <param name="entries">The text each token is matched by (raw or normalized content) and the token; the first
    /// of several tokens with the same pattern wins.</param>
    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedToken Token)> entries)
    {
        foreach (var (pattern, token) in entries)
        {
            if (pattern.Length > 0)
                _byPattern.TryAdd(pattern, token);
        }
        _lookup = _byPattern.GetAlternateLookup<ReadOnlySpan<char>>();
        _lengthsByFirstChar = _byPattern.Keys
            .GroupBy(p => p[0])
            .ToDictionary(g => g.Key, g => g.Select(p => p.Length).Distinct().OrderDescending().ToArray());
    }

    /// <summary>Appends the segments of <paramref name="text"/> in order; they cover it exactly.</summary>
    public void Split(string text, List<TextSegment> output)
    {
        int segmentStart = 0;
        for (int at = 0; at < text.Length;)
        {
            if (!TryMatchAt(text, at, out var token, out int length))
            {
                at++;
                continue;
            }
            int start = at, stop = at + length;
            at = stop;
            if (token.SingleWord && (EndsWithWordChar(text, start) || StartsWithWordChar(text, stop)))
                continue;
            if (token.LStrip)
                start = Math.Max(StartOfTrailingWhiteSpace(text, start), segmentStart);
            if (token.RStrip)
                at = stop = EndOfLeadingWhiteSpace(text, stop);
            if (start > segmentStart)
                output.Add(new TextSegment(segmentStart, start, null));
            output.Add(new TextSegment(start, stop, token));
            segmentStart = stop;
        }
        if (segmentStart < text.Length)
            output.Add(new TextSegment(segmentStart, text.Length, null));
    }

    private bool TryMatchAt(string text, int at, out AddedToken token, out int length)
    {
        if (_lengthsByFirstChar.TryGetValue(text[at], out var lengths))
        {
            foreach (int candidate in lengths)
            {
                if (at + candidate <= text.Length && _lookup.TryGetValue(text.AsSpan(at, candidate), out token!))
                {
                    length = candidate;
                    return true;
                }
            }
        }
        token = null!;
        length = 0;
        return false;
    }

    private static int StartOfTrailingWhiteSpace(string text, int end)
    {
        while (end > 0 && char.IsWhiteSpace(text[end - 1]))
            end--;
        return end;
    }

    private static int EndOfLeadingWhiteSpace(string text, int start)
    {
        while (start < text.Length && char.IsWhiteSpace(text[start]))
            start++;
        return start;
    }

    private static bool EndsWithWordChar(string text, int end) =>
        end > 0 && Rune.DecodeLastFromUtf16(text.AsSpan(0, end), out var rune, out _) == System.Buffers.OperationStatus.Done && IsWordChar(rune);

    private static bool StartsWithWordChar(string text, int start) =>
        start < text.Length && Rune.DecodeFromUtf16(text.AsSpan(start), out var rune, out _) == System.Buffers.OperationStatus.Done && IsWordChar(rune);

    // What the reference's regex \w means: letters, marks, decimal and letter numbers, connectors, joiners.
    private static bool IsWordChar(Rune rune) => rune.Value is 0x200C or 0x200D || Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation => true,
        _ => false,
    };
}
