using System.Text.Json;
using CoAR.Engine.Graph.Generation;
using Microsoft.AspNetCore.Http;

namespace CoAR.Engine.Server;

/// <summary>
/// The body of POST /v1/images/generations, in the shape of OpenAI's Images API: <c>prompt</c>, <c>n</c>, <c>size</c>
/// ("WxH" or "N" pixels, or "auto"), <c>response_format</c> (only "b64_json"), plus the engine's <c>seed</c>, <c>cfg</c>,
/// <c>top_k</c>, <c>temperature</c>, <c>concepts</c> (names, or "name=[PLACEHOLDER]") and <c>stream</c> (server-sent
/// events). <c>model</c> and <c>user</c> are accepted and ignored; any other field is an error naming it.
/// </summary>
public sealed record ImageRequest(string Prompt, int N, int Width, int Height, ulong? Seed, SamplingSettings Sampling,
    IReadOnlyList<string> Concepts, bool Stream)
{
    private static readonly string[] Fields = ["prompt", "n", "size", "response_format", "seed", "cfg", "top_k", "temperature", "concepts", "stream", "model", "user"];

    public const int MaxConcepts = 8;

    /// <summary>Reads and checks a request body; an <see cref="ApiError"/> (400, 413 or 415) naming what is wrong.</summary>
    public static async Task<ImageRequest> ReadAsync(HttpRequest request, ServerOptions options, CancellationToken cancellation)
    {
        if (request.ContentType is { Length: > 0 } type && !IsJson(type))
            // Strict on purpose: a browser may send form or text/plain bodies across origins without asking first.
            throw new ApiError(StatusCodes.Status415UnsupportedMediaType,
                $"the body must be JSON sent as Content-Type: application/json, not {type} (with curl: -H 'Content-Type: application/json')", code: "unsupported_media_type");
        byte[] body;
        try
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer, cancellation);
            body = buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(options);
        }
        if (body.Length > options.MaxBodyBytes) throw TooLarge(options);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new ApiError(StatusCodes.Status400BadRequest, $"the body is not valid JSON: {e.Message}", code: "invalid_json");
        }
        using (doc)
            return Parse(doc.RootElement, options);
    }

    private static bool IsJson(string contentType)
    {
        string media = contentType.Split(';')[0].Trim();
        return media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    private static ApiError TooLarge(ServerOptions options) =>
        new(StatusCodes.Status413PayloadTooLarge, $"the body is larger than the {options.MaxBodyBytes} bytes accepted", code: "body_too_large");

    public static ImageRequest Parse(JsonElement o, ServerOptions options)
    {
        if (o.ValueKind != JsonValueKind.Object)
            throw new ApiError(StatusCodes.Status400BadRequest, $"the body must be a JSON object like {{\"prompt\": \"...\"}}, not {o.ValueKind}", code: "invalid_json");
        foreach (var p in o.EnumerateObject())
            if (Array.IndexOf(Fields, p.Name) < 0)
                throw ApiError.BadField(p.Name, $"unknown field '{p.Name}' (known: {string.Join(", ", Fields)})");

        if (!o.TryGetProperty("prompt", out var promptElement))
            throw ApiError.BadField("prompt", "'prompt' is required");
        string prompt = String(promptElement, "prompt") ?? "";
        if (string.IsNullOrWhiteSpace(prompt)) throw ApiError.BadField("prompt", "'prompt' must be a non-empty string");
        if (prompt.Length > options.MaxPromptCharacters)
            throw ApiError.BadField("prompt", $"'prompt' is {prompt.Length} characters, more than the {options.MaxPromptCharacters} accepted");

        int n = Number<int>(o, "n", e => e.TryGetInt32(out int v) && v >= 1 && v <= options.MaxImagesPerRequest ? v : null, $"an integer from 1 to {options.MaxImagesPerRequest}") ?? 1;

        var (width, height) = (options.DefaultWidth, options.DefaultHeight);
        if (o.TryGetProperty("size", out var sizeElement) && String(sizeElement, "size") is { } size && size != "auto"
            && !ImageLayout.TryParseSize(size, out width, out height))
            throw ApiError.BadField("size", $"'size' is '{size}'; expected \"WxH\" in pixels (like \"768x768\" or \"1024x512\"), \"N\" for N x N, or \"auto\"");

        if (o.TryGetProperty("response_format", out var format) && String(format, "response_format") is { } f && f != "b64_json")
            throw ApiError.BadField("response_format", $"'response_format' is '{f}'; this server answers only \"b64_json\" (it keeps no files to link to)");

        ulong? seed = Number<ulong>(o, "seed", e => e.TryGetUInt64(out ulong v) ? v : null, "an integer from 0 to 2^64 - 1");
        var defaults = new SamplingSettings();
        var sampling = new SamplingSettings(
            Number<float>(o, "cfg", e => e.TryGetSingle(out float v) && float.IsFinite(v) && v >= 0 ? v : null, "a finite number >= 0") ?? defaults.Cfg,
            Number<int>(o, "top_k", e => e.TryGetInt32(out int v) && v >= 0 ? v : null, "an integer >= 0 (0 keeps every token)") ?? defaults.ImageTopK,
            Number<float>(o, "temperature", e => e.TryGetSingle(out float v) && float.IsFinite(v) && v > 0 ? v : null, "a finite number > 0") ?? defaults.Temperature);

        var concepts = new List<string>();
        if (o.TryGetProperty("concepts", out var list) && list.ValueKind != JsonValueKind.Null)
        {
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() > MaxConcepts)
                throw ApiError.BadField("concepts", $"'concepts' must be an array of at most {MaxConcepts} concept names");
            foreach (var c in list.EnumerateArray())
                concepts.Add(String(c, "concepts") is { Length: > 0 } name ? name : throw ApiError.BadField("concepts", "every concept must be a non-empty name"));
        }

        bool stream = false;
        if (o.TryGetProperty("stream", out var s) && s.ValueKind != JsonValueKind.Null)
            stream = s.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiError.BadField("stream", "'stream' must be true or false"),
            };
        foreach (var ignored in new[] { "model", "user" })
            if (o.TryGetProperty(ignored, out var e) && e.ValueKind != JsonValueKind.Null)
                String(e, ignored);
        return new ImageRequest(prompt, n, width, height, seed, sampling, concepts, stream);
    }

    /// <summary>A string field (null for JSON null); an error naming the field otherwise, or for a lone surrogate.</summary>
    private static string? String(JsonElement e, string field)
    {
        if (e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.String) throw ApiError.BadField(field, $"'{field}' must be a string, not {e.ValueKind}");
        try
        {
            return e.GetString();
        }
        catch (InvalidOperationException)
        {
            throw ApiError.BadField(field, $"'{field}' holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text");
        }
    }

    private static T? Number<T>(JsonElement o, string field, Func<JsonElement, T?> read, string expected) where T : struct
    {
        if (!o.TryGetProperty(field, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Number && read(e) is { } value) return value;
        string raw = e.GetRawText();
        throw ApiError.BadField(field, $"'{field}' is {(raw.Length > 40 ? raw[..40] + "..." : raw)}; expected {expected}");
    }
}
