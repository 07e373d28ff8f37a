using System.Text.Json;
using System.Text.Json.Nodes;
using CoAR.Engine.Graph.Generation;
using CoAR.Engine.Managed.Files;

namespace CoAR.Engine.Cli.Commands;

/// <summary>
/// The JSON that `coar encode` writes and `coar decode` reads: image size, latent grid, codes (row-major), and the
/// image-phase tokens. Decode also takes just "codes" with the latent size, or the "tokens" / "image_tokens" of a
/// generate sidecar.
/// </summary>
public static class CodesFile
{
    public static void Write(string path, ImageLayout layout, int[] codes)
    {
        var o = new JsonObject
        {
            ["width"] = layout.WidthPx, ["height"] = layout.HeightPx,
            ["latent_width"] = layout.LatentWidth, ["latent_height"] = layout.LatentHeight,
            ["codes"] = new JsonArray(codes.Select(c => (JsonNode)c).ToArray()),
            ["tokens"] = new JsonArray(TokensFor(layout, codes).Select(t => (JsonNode)t).ToArray()),
        };
        AtomicFile.WriteAllText(path, o.ToJsonString());
    }

    private static int[] TokensFor(ImageLayout layout, int[] codes) =>
        [.. layout.Header, .. layout.Body(codes), layout.Ids.ImageEnd, layout.Ids.EndOfTurn];

    /// <summary>The largest codes file read: a 4096x4096 image's codes and tokens are ~1 MiB of JSON.</summary>
    public const long MaxFileBytes = 16L << 20;

    /// <summary>The largest latent side: 4096 px at the VQGAN's 16x downsampling.</summary>
    public const int MaxLatentSide = 256;

    /// <summary>(latent height, latent width, codes) from any of the accepted forms; every number is checked here.</summary>
    public static (int LatentHeight, int LatentWidth, int[] Codes) Read(string path, ImageTokenIds ids)
    {
        string text = InputFile.ReadAllText(path, MaxFileBytes, "codes file");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 16, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not JSON: {e.Message}");
        }
        using (document)
        {
            var o = document.RootElement;
            if (o.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object");
            string? tokensField = o.TryGetProperty("tokens", out _) ? "tokens" : o.TryGetProperty("image_tokens", out _) ? "image_tokens" : null;
            if (tokensField is not null)
            {
                var tokens = Ints(o, tokensField, path);
                if (tokens.Length < 3 || tokens[0] != ids.ImageStart)
                    throw new InvalidDataException($"{path}: '{tokensField}' must start with the image header [{ids.ImageStart}, h, w]");
                int h = tokens[1] - ids.SizeBase, w = tokens[2] - ids.SizeBase;
                if (h is <= 0 or > MaxLatentSide / 2 || w is <= 0 or > MaxLatentSide / 2)
                    throw new InvalidDataException($"{path}: '{tokensField}' header [{tokens[0]}, {tokens[1]}, {tokens[2]}] is not an image size token pair "
                                                   + $"(expected {ids.SizeBase + 1} to {ids.SizeBase + MaxLatentSide / 2})");
                try
                {
                    var layout = ImageLayout.For(w * 32, h * 32, ids);
                    return (layout.LatentHeight, layout.LatentWidth, layout.Codes(tokens));
                }
                catch (ArgumentException e)
                {
                    throw new InvalidDataException($"{path}: '{tokensField}': {e.Message}");
                }
            }
            if (!o.TryGetProperty("codes", out _) || !o.TryGetProperty("latent_height", out _) || !o.TryGetProperty("latent_width", out _))
                throw new InvalidDataException($"{path}: expected 'tokens' (image-phase tokens), or 'codes' with 'latent_height' and 'latent_width'");
            int lh = Side(o, "latent_height", path), lw = Side(o, "latent_width", path);
            var codes = Ints(o, "codes", path);
            if (codes.Length != lh * lw)
                throw new InvalidDataException($"{path}: {codes.Length} codes do not fill the {lh}x{lw} latent grid");
            return (lh, lw, codes);
        }
    }

    private static int Side(JsonElement o, string name, string path) =>
        o.GetProperty(name) is { ValueKind: JsonValueKind.Number } e && e.TryGetInt32(out int v) && v is > 0 and <= MaxLatentSide
            ? v
            : throw new InvalidDataException($"{path}: '{name}' must be an integer from 1 to {MaxLatentSide}");

    private static int[] Ints(JsonElement o, string name, string path)
    {
        var array = o.GetProperty(name);
        if (array.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: '{name}' must be an array of integers");
        int length = array.GetArrayLength();
        if (length > MaxLatentSide * (MaxLatentSide + 1) + 8)
            throw new InvalidDataException($"{path}: '{name}' has {length} entries, more than a {MaxLatentSide * 16}-pixel image needs");
        var values = new int[length];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out values[i]))
                throw new InvalidDataException($"{path}: {name}[{i}] is {item.GetRawText()}, not a 32-bit integer");
            i++;
        }
        return values;
    }
}
