namespace CoAR.Engine.Tools;

/// <summary>
/// The token names of the built-in tiny model: the real Chameleon special ids and IMGIMG names, so every id the
/// engine treats specially means the same as in Lumina-mGPT 7B, and from <see cref="FirstTextId"/> a small real
/// byte-level BPE text vocabulary (the 256 GPT-2 byte symbols, then the tokens of <see cref="TextMerges"/>).
/// Written into config.json's vocabulary_map and tokenizer.json (<see cref="TinyTokenizer"/>).
/// </summary>
public static class TinyVocabulary
{
    public const int Size = 65536;
    public const int FirstImageCodeId = 4;
    public const int ImageCodeCount = 8192;

    /// <summary>Ids below this are specials, IMGIMG codes and reserved tokens (8710 end of turn, 8803 new line, 8804+ sizes).</summary>
    public const int FirstTextId = 9000;

    /// <summary>The limit on learned merges; training also stops when no pair occurs twice.</summary>
    public const int MaxTextMerges = 400;

    /// <summary>The BPE merges of the text vocabulary, in rank order, learned from <see cref="TinyCorpus"/>.</summary>
    public static IReadOnlyList<(string Left, string Right)> TextMerges { get; } = TinyBpeTrainer.Train(TinyCorpus.Text, MaxTextMerges);

    /// <summary>Token name by id.</summary>
    public static IReadOnlyList<string> Names { get; } = BuildNames();

    /// <summary>The number of text tokens from <see cref="FirstTextId"/> on (256 byte symbols plus the merged tokens).</summary>
    public static int TextTokenCount { get; } = Names.Skip(FirstTextId).TakeWhile(n => !n.StartsWith("<reserved", StringComparison.Ordinal)).Count();

    /// <summary>Chameleon's name for image code c: "IMGIMG", the decimal digits of c as letters (A=0 ... J=9), "Z".</summary>
    public static string ImageCodeName(int code)
    {
        var digits = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "IMGIMG" + string.Concat(digits.Select(d => (char)('A' + (d - '0')))) + "Z";
    }

    /// <summary>
    /// Tokens matched whole in text (tokenizer.json added_tokens): the specials and the reserved block below the
    /// text vocabulary. The reserved names above it are plain vocabulary entries that text never produces.
    /// </summary>
    public static bool IsAddedToken(int id) => id is >= 0 and < FirstImageCodeId or >= FirstImageCodeId + ImageCodeCount and < FirstTextId;

    private static string[] BuildNames()
    {
        var names = new string[Size];
        names[0] = "<s>";
        names[1] = "<pad>";
        names[2] = "</s>";
        names[3] = "<unk>";
        for (int c = 0; c < ImageCodeCount; c++)
            names[FirstImageCodeId + c] = ImageCodeName(c);
        names[8196] = "<eoss>";
        names[8197] = "<racm3:break>";
        // Chameleon names its remaining special tokens <reservedNNNNN> with id NNNNN + 4 (end of turn 8710, new line 8803,
        // size tokens 8804 + n).
        for (int id = 8198; id < Size; id++)
            names[id] = $"<reserved{id - 4:D5}>";
        int next = FirstTextId;
        for (int b = 0; b < 256; b++)
            names[next++] = Graph.Text.ByteLevelAlphabet.ByteToChar((byte)b).ToString();
        var seen = new HashSet<string>(names.Take(next), StringComparer.Ordinal);
        foreach (var (left, right) in TextMerges)
        {
            // Different merges can spell the same token ("a"+"bc", "ab"+"c"); it gets one id.
            if (seen.Add(left + right))
                names[next++] = left + right;
        }
        if (names.Distinct(StringComparer.Ordinal).Count() != Size)
            throw new InvalidOperationException("The tiny vocabulary has duplicate token names.");
        return names;
    }
}
