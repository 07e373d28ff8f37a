using CoAR.Engine.Graph.Generation;

namespace CoAR.Engine.Graph.Text;

/// <summary>
/// The token ids Lumina-mGPT treats specially, read by name from a vocabulary (config.json's vocabulary_map or the
/// tokenizer's vocabulary), and the image code to token id table built from the IMGIMG names.
/// BOS is <c>&lt;s&gt;</c> (id 0 in Chameleon): config.json's bos_token_id says 1, which is wrong, so it is never used.
/// </summary>
public sealed class ChameleonVocabulary
{
    public const string BosName = "<s>";
    public const string PadName = "<pad>";
    public const string EosName = "</s>";
    public const string ImageStartName = "<racm3:break>";
    public const string ImageEndName = "<eoss>";
    public const string EndOfTurnName = "<reserved08706>";
    public const string NewLineName = "<reserved08799>";
    public const int ImageCodeCount = 8192;

    private const string ImageCodePrefix = "IMGIMG";
    private const int FirstSizeReserved = 8800;

    // The widest grid any released target allows: 1024 target, 64 x 16 cells of 32 pixels.
    private const int MaxGrids = 64;

    private readonly IReadOnlyDictionary<string, int> _vocabulary;
    private readonly int[] _imageCodeIds;

    public ChameleonVocabulary(IReadOnlyDictionary<string, int> vocabulary, string sourceName = "vocabulary")
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        _vocabulary = vocabulary;
        SourceName = sourceName;
        Bos = Require(BosName);
        Pad = Require(PadName);
        Eos = Require(EosName);
        ImageStart = Require(ImageStartName);
        ImageEnd = Require(ImageEndName);
        EndOfTurn = Require(EndOfTurnName);
        NewLine = Require(NewLineName);
        _imageCodeIds = BuildImageCodeTable();
    }

    public string SourceName { get; }
    public int Bos { get; }
    public int Pad { get; }
    public int Eos { get; }
    public int ImageStart { get; }
    public int ImageEnd { get; }
    public int EndOfTurn { get; }
    public int NewLine { get; }

    /// <summary>The smallest and largest image-code token ids (4 and 8195 in Chameleon).</summary>
    public int FirstImageCodeId => _imageCodeIds[0];
    public int LastImageCodeId => _imageCodeIds[^1];

    /// <summary>The id of the size token for <paramref name="grids"/> 32-pixel cells, <c>&lt;reserved{08800+n}&gt;</c> (8804 + n in Chameleon).</summary>
    public int SizeToken(int grids)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(grids);
        return Require($"<reserved{FirstSizeReserved + grids:D5}>");
    }

    /// <summary>
    /// The ids generation works with. It assumes contiguous image codes and size tokens (as in Chameleon: codes 4..8195,
    /// sizes 8804 + n); a vocabulary where they are not is refused with the first gap.
    /// </summary>
    public ImageTokenIds ToImageTokenIds()
    {
        for (int code = 1; code < ImageCodeCount; code++)
        {
            if (_imageCodeIds[code] != _imageCodeIds[0] + code)
                throw new InvalidDataException($"{SourceName}: image code {code} has id {_imageCodeIds[code]}, not {_imageCodeIds[0] + code}: the codes are not contiguous.");
        }
        int sizeBase = SizeToken(0);
        for (int grids = 1; grids <= MaxGrids; grids++)
        {
            if (SizeToken(grids) != sizeBase + grids)
                throw new InvalidDataException($"{SourceName}: the size token for {grids} cells has id {SizeToken(grids)}, not {sizeBase + grids}: the size tokens are not contiguous.");
        }
        return new ImageTokenIds(ImageStart, ImageEnd, NewLine, EndOfTurn, sizeBase, _imageCodeIds[0], ImageCodeCount);
    }

    public int ImageCodeToId(int code)
    {
        if ((uint)code >= ImageCodeCount)
            throw new ArgumentOutOfRangeException(nameof(code), code, $"Image codes are 0..{ImageCodeCount - 1}.");
        return _imageCodeIds[code];
    }

    /// <summary>The image code of token <paramref name="id"/>, or false when it is not an image-code token.</summary>
    public bool TryGetImageCode(int id, out int code)
    {
        // The table is increasing (checked at construction), so a binary search inverts it.
        code = Array.BinarySearch(_imageCodeIds, id);
        if (code >= 0)
            return true;
        code = -1;
        return false;
    }

    public int IdToImageCode(int id) => TryGetImageCode(id, out int code)
        ? code
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id {id} is not an image-code (IMGIMG) token of {SourceName}.");

    /// <summary>
    /// The code an IMGIMG token name spells: the letters between "IMGIMG" and one trailing character are decimal
    /// digits, A = 0 ... J = 9 (IMGIMGBCZ is code 12). False for names that are not IMGIMG names.
    /// </summary>
    public static bool TryParseImageCodeName(string name, out int code)
    {
        code = 0;
        if (!name.StartsWith(ImageCodePrefix, StringComparison.Ordinal) || name.Length < ImageCodePrefix.Length + 2)
            return false;
        var digits = name.AsSpan(ImageCodePrefix.Length, name.Length - ImageCodePrefix.Length - 1);
        if (digits.Length > 9)
            return false;
        foreach (char letter in digits)
        {
            if (letter is < 'A' or > 'J')
                return false;
            code = code * 10 + (letter - 'A');
        }
        return true;
    }

    private int Require(string name) => _vocabulary.TryGetValue(name, out int id)
        ? id
        : throw new InvalidDataException($"{SourceName}: the token {name} is missing from the vocabulary.");

    private int[] BuildImageCodeTable()
    {
        var ids = new int[ImageCodeCount];
        Array.Fill(ids, -1);
        foreach (var (name, id) in _vocabulary)
        {
            if (!name.StartsWith(ImageCodePrefix, StringComparison.Ordinal))
                continue;
            if (!TryParseImageCodeName(name, out int code))
                throw new InvalidDataException($"{SourceName}: token {name} (id {id}) starts with {ImageCodePrefix} but is not IMGIMG + letters A-J + one character.");
            if (code >= ImageCodeCount)
                throw new InvalidDataException($"{SourceName}: token {name} (id {id}) names image code {code}; codes are 0..{ImageCodeCount - 1}.");
            if (ids[code] >= 0)
                throw new InvalidDataException($"{SourceName}: image code {code} is named twice (ids {ids[code]} and {id}).");
            ids[code] = id;
        }
        int missing = Array.IndexOf(ids, -1);
        if (missing >= 0)
        {
            int count = ids.Count(id => id < 0);
            throw new InvalidDataException($"{SourceName}: expected IMGIMG tokens for all {ImageCodeCount} image codes, {count} are missing (the first is code {missing}).");
        }
        for (int code = 1; code < ImageCodeCount; code++)
        {
            // Reference code decodes ids by rank, which only agrees with the names when the table increases.
            if (ids[code] <= ids[code - 1])
                throw new InvalidDataException(
                    $"{SourceName}: the image code table is not increasing: code {code - 1} has id {ids[code - 1]} but code {code} has id {ids[code]}.");
        }
        return ids;
    }
}
