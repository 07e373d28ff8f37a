using System.Text;
using CoAR.Engine.Managed.Interop;

namespace CoAR.Engine.Managed.Files;

/// <summary>
/// Reading a user's input file whole, with the checks every reader needs first: it is a regular file (a FIFO or a
/// device would block or never end), and it is no larger than the reader accepts (checked before anything is
/// allocated). Errors name the file and what was expected.
/// </summary>
public static class InputFile
{
    /// <summary>Throws <see cref="FileNotFoundException"/> when missing, <see cref="InvalidDataException"/> when not a regular file.</summary>
    public static void CheckRegular(string path, string what)
    {
        if (Directory.Exists(path))
            throw new InvalidDataException($"{what} '{path}' is a directory, not a file");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{what} '{path}' does not exist", path);
        if (LibcStat.FileType(path) is { } type && type != RegularFileType)
            throw new InvalidDataException($"{what} '{path}' is {Describe(type)}, not a regular file");
    }

    /// <summary>The file's bytes; at most <paramref name="maxBytes"/>, else a clear error before reading.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        CheckRegular(path, what);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
        long length = stream.Length;
        if (length > maxBytes)
            throw new InvalidDataException($"{what} '{path}' is {length} bytes, more than the {maxBytes} accepted");
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>The file as UTF-8 text (a BOM is dropped; invalid UTF-8 is an error naming the byte offset).</summary>
    public static string ReadAllText(string path, long maxBytes, string what)
    {
        byte[] bytes = ReadAllBytes(path, maxBytes, what);
        ReadOnlySpan<byte> text = bytes.AsSpan().StartsWith("\uFEFF"u8) ? bytes.AsSpan(3) : bytes;
        try
        {
            return StrictUtf8.GetString(text);
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"{what} '{path}' is not UTF-8 text (invalid bytes at offset {e.Index})");
        }
    }

    private const int RegularFileType = 0x8000;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string Describe(int type) => type switch
    {
        0x1000 => "a FIFO (named pipe)",
        0x2000 => "a character device",
        0x6000 => "a block device",
        0xC000 => "a socket",
        0x4000 => "a directory",
        _ => $"a special file (type 0x{type:x4})",
    };
}
