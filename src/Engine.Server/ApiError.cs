using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace CoAR.Engine.Server;

/// <summary>
/// A request the server answers with an error: the HTTP status and OpenAI's error body,
/// <c>{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}</c>, where param names the request field at
/// fault. 429 and 503 say when to come back (Retry-After).
/// </summary>
public sealed class ApiError(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public TimeSpan? RetryAfter { get; init; }

    public string Type => Status switch
    {
        401 => "authentication_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    public static ApiError BadField(string field, string message) => new(StatusCodes.Status400BadRequest, message, field, "invalid_value");

    public async Task WriteAsync(HttpResponse response)
    {
        if (response.HasStarted) return;
        response.StatusCode = Status;
        if (RetryAfter is { } after)
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (Status == StatusCodes.Status401Unauthorized)
            response.Headers.WWWAuthenticate = "Bearer";
        response.ContentType = "application/json";
        await response.WriteAsync(Json(), response.HttpContext.RequestAborted);
    }

    public string Json() => JsonSerializer.Serialize(new { error = new { message = Message, type = Type, param = Param, code = Code } }, Relaxed);

    // Quotes in messages as themselves: people read these.
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
