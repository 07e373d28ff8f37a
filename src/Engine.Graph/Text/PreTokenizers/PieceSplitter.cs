namespace CoAR.Engine.Graph.Text.PreTokenizers;

/// <summary>
/// Cuts one piece at delimiter matches according to a <see cref="SplitBehavior"/>, the way tokenizers'
/// NormalizedString::split does: the matches and the gaps between them cover the text; the behavior decides which
/// survive and what they merge with; empty pieces are dropped.
/// </summary>
internal static class PieceSplitter
{
    public static void Split(PreToken piece, List<(int Start, int End)> matches, SplitBehavior behavior, bool invert,
        List<PreToken> output)
    {
        var spans = Cover(piece.Text.Length, matches, invert);
        var kept = behavior switch
        {
            SplitBehavior.Removed => spans.Where(s => !s.IsMatch).Select(s => (s.Start, s.End)).ToList(),
            SplitBehavior.Isolated => spans.Select(s => (s.Start, s.End)).ToList(),
            SplitBehavior.MergedWithPrevious => MergeWithPrevious(spans),
            SplitBehavior.MergedWithNext => MergeWithNext(spans),
            SplitBehavior.Contiguous => MergeContiguous(spans),
            _ => throw new ArgumentOutOfRangeException(nameof(behavior), behavior, null),
        };
        foreach (var (start, end) in kept)
        {
            if (end > start)
                output.Add(new PreToken(piece.Text[start..end], piece.AtTextStart && start == 0));
        }
    }

    private static List<(int Start, int End, bool IsMatch)> Cover(int length, List<(int Start, int End)> matches, bool invert)
    {
        var spans = new List<(int, int, bool)>(matches.Count * 2 + 1);
        int previous = 0;
        foreach (var (start, end) in matches)
        {
            if (start > previous)
                spans.Add((previous, start, invert));
            spans.Add((start, end, !invert));
            previous = end;
        }
        if (previous < length)
            spans.Add((previous, length, invert));
        return spans;
    }

    private static List<(int, int)> MergeWithPrevious(List<(int Start, int End, bool IsMatch)> spans)
    {
        var result = new List<(int Start, int End)>();
        bool previousMatch = false;
        foreach (var (start, end, isMatch) in spans)
        {
            if (isMatch && !previousMatch && result.Count > 0)
                result[^1] = (result[^1].Start, end);
            else
                result.Add((start, end));
            previousMatch = isMatch;
        }
        return result;
    }

    private static List<(int, int)> MergeWithNext(List<(int Start, int End, bool IsMatch)> spans)
    {
        // The mirror image of MergeWithPrevious: walk from the end.
        var result = new List<(int Start, int End)>();
        bool previousMatch = false;
        for (int i = spans.Count - 1; i >= 0; i--)
        {
            var (start, end, isMatch) = spans[i];
            if (isMatch && !previousMatch && result.Count > 0)
                result[^1] = (start, result[^1].End);
            else
                result.Add((start, end));
            previousMatch = isMatch;
        }
        result.Reverse();
        return result;
    }

    private static List<(int, int)> MergeContiguous(List<(int Start, int End, bool IsMatch)> spans)
    {
        var result = new List<(int Start, int End)>();
        bool previousMatch = false;
        foreach (var (start, end, isMatch) in spans)
        {
            if (isMatch == previousMatch && result.Count > 0)
                result[^1] = (result[^1].Start, end);
            else
                result.Add((start, end));
            previousMatch = isMatch;
        }
        return result;
    }
}
