using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace CoAR.Engine.Graph.Text.Json;

/// <summary>
/// A .NET regex that treats characters outside the BMP the way the reference's Oniguruma does: .NET matches UTF-16
/// units, so \p{L} never matches a supplementary letter (its halves are surrogates). Text with surrogate pairs is
/// matched through a proxy string where each supplementary code point is one BMP character of the same Unicode
/// category, and match ranges are mapped back.
/// <para>
/// A tokenizer.json comes from outside, and a backtracking regex can take exponential time ("(a+)+$" on "aaa...b").
/// Patterns the linear-time engine (<see cref="RegexOptions.NonBacktracking"/>, same matches) can run use it; the
/// others (lookarounds and backreferences, as in GPT-2's "\s+(?!\S)") run with a time-out per match, which a real
/// pre-tokenizer never comes near, and exceeding it is an error naming the pattern.
/// </para>
/// </summary>
internal sealed class UnicodeRegex
{
    /// <summary>How long one match may take on the backtracking engine.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    // One rarely written BMP character per Unicode category (searched from U+FFFF down), never a surrogate.
    private static readonly char[] ProxyByCategory = BuildProxies();

    private readonly Regex _regex;

    /// <summary>Throws <see cref="ArgumentException"/> when .NET cannot compile the pattern.</summary>
    public UnicodeRegex(string pattern)
    {
        try
        {
            _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            _regex = new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout);
        }
    }

    public string Pattern => _regex.ToString();

    /// <summary>Appends the [start, end) ranges of every match; <see cref="RegexMatchTimeoutException"/> when one takes too long.</summary>
    public void FindMatches(string text, List<(int Start, int End)> matches)
    {
        if (!HasSurrogates(text))
        {
            for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
                matches.Add((m.Index, m.Index + m.Length));
            return;
        }
        var proxy = new StringBuilder(text.Length);
        var originalIndex = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            originalIndex.Add(i);
            if (Rune.TryGetRuneAt(text, i, out var rune) && rune.Utf16SequenceLength == 2)
            {
                proxy.Append(ProxyByCategory[(int)Rune.GetUnicodeCategory(rune)]);
                i += 2;
            }
            else
            {
                proxy.Append(text[i]);
                i++;
            }
        }
        originalIndex.Add(text.Length);
        for (var m = _regex.Match(proxy.ToString()); m.Success; m = m.NextMatch())
            matches.Add((originalIndex[m.Index], originalIndex[m.Index + m.Length]));
    }

    private static bool HasSurrogates(string text)
    {
        foreach (char c in text)
        {
            if (char.IsSurrogate(c))
                return true;
        }
        return false;
    }

    private static char[] BuildProxies()
    {
        var proxies = new char[32];
        Array.Fill(proxies, '\uFFFD');
        var found = new bool[32];
        for (int c = 0xFFFF; c >= 0x80; c--)
        {
            if (char.IsSurrogate((char)c))
                continue;
            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (!found[category])
            {
                found[category] = true;
                proxies[category] = (char)c;
            }
        }
        return proxies;
    }
}
