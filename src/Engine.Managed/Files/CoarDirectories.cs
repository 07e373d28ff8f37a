namespace CoAR.Engine.Managed.Files;

/// <summary>Where the engine keeps what it makes once and reuses: the built-in model, device self-test results.</summary>
public static class CoarDirectories
{
    /// <summary>$COAR_HOME, else $XDG_CACHE_HOME/coar, else ~/.cache/coar.</summary>
    public static string Cache()
    {
        string? home = Environment.GetEnvironmentVariable("COAR_HOME");
        if (!string.IsNullOrEmpty(home)) return home;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "coar");
    }
}
