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

    /// <summary>(latent height, latent width, codes) from any of the accepted forms.</summary>
    public static (int LatentHeight, int LatentWidth, int[] Codes) Read(string path, ImageTokenIds ids)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"codes file '{path}' not found", path);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not JSON: {e.Message}");
        }
        if (root is not JsonObject o) throw new InvalidDataException($"{path}: expected a JSON object");
        int[] Ints(string name) => o[name] is JsonArray a
            ? a.Select((n, i) => n?.GetValue<int>() ?? throw new InvalidDataException($"{path}: {name}[{i}] is null")).ToArray()
            : throw new InvalidDataException($"{path}: '{name}' must be an array of integers");
        var tokensField = o.ContainsKey("tokens") ? "tokens" : o.ContainsKey("image_tokens") ? "image_tokens" : null;
        if (tokensField is not null)
        {
            var tokens = Ints(tokensField);
            if (tokens.Length < 3 || tokens[0] != ids.ImageStart)
                throw new InvalidDataException($"{path}: '{tokensField}' must start with the image header [{ids.ImageStart}, h, w]");
            int h = (tokens[1] - ids.SizeBase) * 32, w = (tokens[2] - ids.SizeBase) * 32;
            var layout = ImageLayout.For(w, h, ids);
            return (layout.LatentHeight, layout.LatentWidth, layout.Codes(tokens));
        }
        if (o["codes"] is null || o["latent_height"] is null || o["latent_width"] is null)
            throw new InvalidDataException($"{path}: expected 'tokens' (image-phase tokens), or 'codes' with 'latent_height' and 'latent_width'");
        return (o["latent_height"]!.GetValue<int>(), o["latent_width"]!.GetValue<int>(), Ints("codes"));
    }
}
