namespace CoAR.Engine.Tools;

/// <summary>
/// The token names of the built-in tiny model: the real Chameleon special ids and IMGIMG names, so every id the
/// engine treats specially means the same as in Lumina-mGPT 7B. Written into config.json's vocabulary_map.
/// </summary>
public static class TinyVocabulary
{
    public const int Size = 65536;
    public const int FirstImageCodeId = 4;
    public const int ImageCodeCount = 8192;

    /// <summary>Token name by id.</summary>
    public static IReadOnlyList<string> Names { get; } = BuildNames();

    /// <summary>Chameleon's name for image code c: "IMGIMG", the decimal digits of c as letters (A=0 ... J=9), "Z".</summary>
    public static string ImageCodeName(int code)
    {
        var digits = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "IMGIMG" + string.Concat(digits.Select(d => (char)('A' + (d - '0')))) + "Z";
    }

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
        return names;
    }
}
