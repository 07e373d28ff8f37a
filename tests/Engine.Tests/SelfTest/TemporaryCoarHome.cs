namespace CoAR.Engine.Tests.SelfTest;

/// <summary>COAR_HOME pointed at a fresh directory until disposed, so self-test results kept by a test stay out of the user's cache.</summary>
internal sealed class TemporaryCoarHome : IDisposable
{
    private readonly string? _saved = Environment.GetEnvironmentVariable("COAR_HOME");

    public TemporaryCoarHome()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("coar-home-").FullName;
        Environment.SetEnvironmentVariable("COAR_HOME", Directory);
    }

    public string Directory { get; }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("COAR_HOME", _saved);
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
