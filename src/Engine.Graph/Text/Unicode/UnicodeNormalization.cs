using System.Globalization;
using System.Text;

namespace CoAR.Engine.Graph.Text.Unicode;

/// <summary>
/// NFC, NFD, NFKC and NFKD from the engine's own tables (UAX #15). Needed because the engine runs with
/// InvariantGlobalization, where <see cref="string.Normalize()"/> silently returns its input unchanged.
/// </summary>
internal static class UnicodeNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Lazy<UnicodeNormalizationTables> Tables = new(UnicodeNormalizationTables.Load);

    public static string Normalize(string text, NormalizationForm form)
    {
        if (IsAscii(text))
            return text; // ASCII is unchanged by all four forms.
        var tables = Tables.Value;
        bool compatibility = form is NormalizationForm.FormKC or NormalizationForm.FormKD;
        var codePoints = new List<int>(text.Length + 8);
        foreach (var rune in text.EnumerateRunes())
            Decompose(tables, rune.Value, compatibility, codePoints);
        SortCombiningMarks(tables, codePoints);
        if (form is NormalizationForm.FormC or NormalizationForm.FormKC)
            Compose(tables, codePoints);
        var builder = new StringBuilder(codePoints.Count);
        foreach (int cp in codePoints)
            builder.Append(new Rune(cp).ToString());
        return builder.ToString();
    }

    private static bool IsAscii(string text)
    {
        foreach (char c in text)
        {
            if (c >= 0x80)
                return false;
        }
        return true;
    }

    private static void Decompose(UnicodeNormalizationTables tables, int cp, bool compatibility, List<int> output)
    {
        if (cp is >= SBase and < SBase + SCount)
        {
            int s = cp - SBase;
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
                output.Add(TBase + s % TCount);
            return;
        }
        if ((compatibility && tables.Compatibility.TryGetValue(cp, out var mapping)) || tables.Canonical.TryGetValue(cp, out mapping))
        {
            foreach (int part in mapping)
                Decompose(tables, part, compatibility, output);
            return;
        }
        output.Add(cp);
    }

    // Canonical ordering: a stable sort of each run of non-starters by combining class.
    private static void SortCombiningMarks(UnicodeNormalizationTables tables, List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int cls = tables.CombiningClass(cps[i]);
            if (cls == 0)
                continue;
            for (int j = i; j > 0 && tables.CombiningClass(cps[j - 1]) > cls; j--)
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
        }
    }

    // The canonical composition algorithm of UAX #15: each character composes with the last starter unless a
    // character of the same or higher class sits between them.
    private static void Compose(UnicodeNormalizationTables tables, List<int> cps)
    {
        if (cps.Count == 0)
            return;
        int starterPos = 0;
        int starter = cps[0];
        int lastClass = tables.CombiningClass(starter) == 0 ? 0 : 256;
        int write = 1;
        for (int read = 1; read < cps.Count; read++)
        {
            int ch = cps[read];
            int cls = tables.CombiningClass(ch);
            int composite = ComposePair(tables, starter, ch);
            if (composite >= 0 && (lastClass < cls || lastClass == 0))
            {
                cps[starterPos] = composite;
                starter = composite;
                continue;
            }
            if (cls == 0)
            {
                starterPos = write;
                starter = ch;
            }
            lastClass = cls;
            cps[write++] = ch;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static int ComposePair(UnicodeNormalizationTables tables, int first, int second)
    {
        if (first is >= LBase and < LBase + LCount && second is >= VBase and < VBase + VCount)
            return SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
        if (first is >= SBase and < SBase + SCount && (first - SBase) % TCount == 0 && second is > TBase and < TBase + TCount)
            return first + (second - TBase);
        return tables.Compositions.TryGetValue(((long)first << 32) | (uint)second, out int composite) ? composite : -1;
    }
}
