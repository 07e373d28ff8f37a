namespace CoAR.Engine.Server;

/// <summary>
/// What `coar serve` listens on and the limits it enforces. Defaults: loopback only, no authentication, 16 guided
/// images generated at once (fewer when memory says so), 64 images waiting at most.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>An IP address or "localhost"; 0.0.0.0 or :: listens on every interface.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (the server says which).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>The most guided images generated at once (the batch); the memory estimate may allow fewer.</summary>
    public int MaxBatch { get; init; } = 16;

    /// <summary>Images waiting for room; a request that would exceed it is answered 429 with Retry-After.</summary>
    public int MaxQueuedImages { get; init; } = 64;

    /// <summary>Images one request may ask for (n).</summary>
    public int MaxImagesPerRequest { get; init; } = 8;

    /// <summary>The largest image served, in pixels (also what the KV cache is planned for).</summary>
    public int MaxWidth { get; init; } = 768;
    public int MaxHeight { get; init; } = 768;

    /// <summary>The size of a request that names none.</summary>
    public int DefaultWidth { get; init; } = 768;
    public int DefaultHeight { get; init; } = 768;

    public int MaxPromptCharacters { get; init; } = Graph.Text.LuminaPrompt.MaxCaptionCharacters;

    /// <summary>The longest prompt in tokens (with concept slots), which the KV cache is planned for.</summary>
    public int MaxPromptTokens { get; init; } = 512;

    /// <summary>The largest request body; a larger one is answered 413.</summary>
    public long MaxBodyBytes { get; init; } = 256 * 1024;

    /// <summary>When set, /v1/* and /metrics need "Authorization: Bearer KEY" (/health stays open for probes).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Concepts requests may name, loaded at startup (named by their file name without extension).</summary>
    public IReadOnlyList<(string Name, string File)> Concepts { get; init; } = [];

    /// <summary>A directory of NAME.safetensors concept files that requests may name, loaded on first use.</summary>
    public string? ConceptsDirectory { get; init; }

    /// <summary>One line per request is written here (method, path, status, images, seconds); null: none.</summary>
    public TextWriter? RequestLog { get; init; }
}
