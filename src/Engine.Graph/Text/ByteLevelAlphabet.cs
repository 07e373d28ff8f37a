using System.Text;

namespace CoAR.Engine.Graph.Text;

/// <summary>
/// GPT-2's byte-level alphabet: every byte 0..255 has a printable stand-in character (printable Latin-1 bytes stand
/// for themselves, the others map to U+0100 upwards, so a space is "Ġ" and a new line "Ċ").
/// </summary>
public static class ByteLevelAlphabet
{
    /// <summary>The GPT-2 pre-tokenization regex the ByteLevel pre-tokenizer applies when use_regex is set.</summary>
    public const string Gpt2SplitPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly char[] ByteToCharTable = BuildTable();
    private static readonly Dictionary<char, byte> CharToByteTable =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToCharTable[b], b => (byte)b);

    public static char ByteToChar(byte value) => ByteToCharTable[value];

    public static bool TryCharToByte(char c, out byte value) => CharToByteTable.TryGetValue(c, out value);

    /// <summary>The byte-level spelling of the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static string Encode(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (chars, source) =>
        {
            for (int i = 0; i < source.Length; i++)
                chars[i] = ByteToCharTable[source[i]];
        });
    }

    private static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
