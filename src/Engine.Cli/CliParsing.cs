using System.Globalization;

namespace CoAR.Engine.Cli;

/// <summary>Parsers for option values that are not plain numbers; errors name the option and the expected form.</summary>
public static class CliParsing
{
    /// <summary>"768" (square) or "WxH" (width first), in pixels.</summary>
    public static (int Width, int Height) ImageSize(string text, string option = "--size") =>
        Graph.Generation.ImageLayout.TryParseSize(text, out int w, out int h)
            ? (w, h)
            : throw new UsageException($"{option} '{text}': expected a size in pixels like 768 or 1024x512 (width x height)");

    /// <summary>"0,8197,8804" or "0 8197 8804": token ids.</summary>
    public static int[] TokenIds(string text, string option = "--tokens")
    {
        var parts = text.Split([',', ' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
            throw new UsageException($"{option}: no token ids given; expected a comma-separated list like 0,8197,8804");
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ids[i]) || ids[i] < 0)
                throw new UsageException($"{option}: '{parts[i]}' (item {i + 1}) is not a token id; expected non-negative integers");
        return ids;
    }
}
